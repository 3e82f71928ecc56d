"""Small builders shared by the tests (no JAX compile at import)."""

from __future__ import annotations

import json
from pathlib import Path

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from jaxarc.envs.environment import initial_state
from jaxarc.types import State


def padded(grid, size: int):
    g = np.zeros((size, size), np.int8)
    m = np.zeros((size, size), bool)
    arr = np.asarray(grid, np.int8)
    g[: arr.shape[0], : arr.shape[1]] = arr
    m[: arr.shape[0], : arr.shape[1]] = True
    return jnp.asarray(g), jnp.asarray(m)


def make_state(grid, target=None, size: int = 5, clipboard=None) -> State:
    g, m = padded(grid, size)
    t, tm = padded(target if target is not None else grid, size)
    cb, cbm = (
        padded(clipboard, size) if clipboard is not None else (jnp.zeros_like(g), jnp.zeros_like(m))
    )
    if clipboard is not None:
        cbm = jnp.asarray(np.asarray(cb) != 0) & cbm
    state = initial_state(g, m, t, tm, jnp.zeros(2, jnp.uint32))
    return eqx.tree_at(lambda s: (s.clipboard, s.clipboard_mask), state, (cb, cbm))


def cells(rc, size: int = 5):
    m = np.zeros((size, size), bool)
    for r, c in rc:
        m[r, c] = True
    return jnp.asarray(m)


def crop(state: State) -> list[list[int]]:
    g = np.asarray(state.working_grid)
    m = np.asarray(state.working_grid_mask)
    h, w = int(m.any(axis=1).sum()), int(m.any(axis=0).sum())
    return g[:h, :w].tolist()


def write_task(folder: Path, task_id: str, train, test) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{task_id}.json"
    to_pairs = lambda pairs: [{"input": i, "output": o} for i, o in pairs]  # noqa: E731
    path.write_text(json.dumps({"train": to_pairs(train), "test": to_pairs(test)}))
    return path


def write_easy_tasks(folder: Path) -> Path:
    """Tiny tasks that are solved by filling the whole 3x3 grid with one colour."""
    for colour in (1, 2):
        src = [[0, 0, 0], [0, 3, 0], [0, 0, 0]]
        out = [[colour] * 3 for _ in range(3)]
        write_task(folder, f"fill{colour}", [(src, out), (src, out)], [(src, out)])
    return folder


def wandb_history(run_dir: Path) -> list[dict]:
    """History rows of the offline wandb run under ``run_dir``
    (read with ``wandb leet inspect``)."""
    import shutil
    import subprocess
    import sys

    files = sorted(Path(run_dir).glob("wandb/offline-run-*/run-*.wandb"))
    assert files, f"no offline wandb run under {run_dir}"
    exe = shutil.which("wandb", path=str(Path(sys.executable).parent)) or "wandb"
    out = subprocess.run(
        [exe, "leet", "inspect", "--json", str(files[-1])],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    rows = []
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            rec = json.loads(line)
            if rec.get("type") == "history":
                rows.append(rec["history"]["item"])
    return rows


def tensorboard_scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar in ``run_dir/tensorboard`` as tag -> [(step, value)]."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(Path(run_dir) / "tensorboard"))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def strict_json(text: str):
    """json.loads that refuses NaN/Infinity tokens."""

    def refuse(token):
        raise ValueError(f"non-strict JSON token {token}")

    return json.loads(text, parse_constant=refuse)


def svg_cells(svg_text: str) -> list[str]:
    """Fill colours of the grid cells in an SVG document (parsed as XML)."""
    import xml.etree.ElementTree as ET

    root = ET.fromstring(svg_text)
    return [
        el.get("fill")
        for el in root.iter()
        if el.tag.endswith("rect") and el.get("class") == "cell"
    ]


#: the keys of the design's sampled episode summary (``_sample_episodes_from_batch``)
DESIGN_SUMMARY_KEYS = frozenset(
    {
        "episode_num",
        "total_reward",
        "total_steps",
        "final_similarity",
        "success",
        "environment_id",
        "task_id",
        "initial_state",
        "final_state",
    }
)


class Recorder:
    """A handler that keeps what it is sent: aggregated metrics ``(step, metrics)`` and
    episode summaries."""

    def __init__(self):
        self.metrics, self.summaries = [], []

    def log_aggregated_metrics(self, metrics, step):
        self.metrics.append((step, metrics))

    def log_episode_summary(self, summary):
        self.summaries.append(summary)

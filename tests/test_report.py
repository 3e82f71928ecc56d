"""`jaxarc report`: HTML structure, numbers against the JSONL, partial runs, several runs,
a real browser."""

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

import jaxarc
from jaxarc.cli import main as cli_main
from jaxarc.logging import ExperimentLogger, read_run
from jaxarc.report import build_report


def make_run(
    base: Path,
    name: str,
    updates: int = 30,
    seed: int = 0,
    with_losses: bool = True,
    lr: float = 3e-4,
) -> Path:
    cfg = jaxarc.load_config(
        [
            f"storage.base_output_dir={base}",
            f"storage.run_name={name}",
            "visualization.console=false",
            "storage.tensorboard=false",
            "logging.log_frequency=2",
            "logging.sample_frequency=10",
            f"train.learning_rate={lr}",
        ]
    )
    rng = np.random.default_rng(seed)
    with ExperimentLogger(cfg) as log:
        for u in range(updates):
            n = 16
            data = {
                "update_step": u,
                "episode_returns": jnp.asarray(rng.normal(u / 10, 1, n), jnp.float32),
                "similarity_scores": jnp.asarray(
                    np.clip(rng.normal(u / updates, 0.1, n), 0, 1), jnp.float32
                ),
                "episode_lengths": jnp.asarray(rng.integers(1, 10, n)),
                "success_mask": jnp.asarray(rng.uniform(size=n) < u / updates),
                "initial_states": {
                    "grid": jnp.zeros((n, 3, 3), jnp.int8),
                    "mask": jnp.ones((n, 3, 3), bool),
                },
                "final_states": {
                    "grid": jnp.ones((n, 3, 3), jnp.int8),
                    "mask": jnp.ones((n, 3, 3), bool),
                },
            }
            if with_losses:
                data |= {
                    "policy_loss": 1.0 / (u + 1),
                    "value_loss": 2.0 / (u + 1),
                    "gradient_norm": 0.5,
                }
            log.log_batch_step(data)
    return log.run_dir


class Sections(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.groups, self.rows, self._row, self._cell = [], [], [], None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
        if "data-metric-group" in a:
            self.groups.append(a["data-metric-group"])
        if tag == "tr":
            self._row = []
        if tag == "td" and self._row is not None:
            self._row.append(a.get("data-value"))
            self._cell = ""

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag):
        if tag == "td" and self._row is not None:
            self._row[-1] = (self._row[-1], self._cell)
            self._cell = None
        if tag == "tr" and self._row:
            self.rows.append(self._row)
            self._row = None


def parse(path: Path) -> Sections:
    p = Sections()
    p.feed(path.read_text())
    return p


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("report_runs")
    return make_run(base, "a", seed=0), make_run(base, "b", seed=1, lr=1e-3)


def test_single_run_report_has_sections_and_true_numbers(runs, tmp_path):
    out = build_report([runs[0]], tmp_path / "r.html")
    page = out.read_text()
    doc = parse(out)
    assert {"curves", "summary", "config", "gallery"} <= set(doc.ids)
    assert doc.groups[:5] == ["Reward", "Similarity", "Episode length", "Success rate", "Losses"]
    # a constant is stated, not drawn (the gradient norm and learning rate never change here)
    assert "Gradient norm" not in doc.groups and "Gradient norm: 0.5 throughout" in page
    import re

    assert (
        not re.search(r"(src|href)=[\"']?https?:", page)
        and "<script" not in page
        and "<link" not in page
    )
    records = [
        json.loads(line) for line in (runs[0] / "batch_metrics.jsonl").read_text().splitlines()
    ]
    table = {(r[0][1], r[1][1]): r for r in doc.rows if len(r) == 5}
    for metric in ("reward_mean", "similarity_max", "policy_loss", "success_rate"):
        values = [rec["metrics"][metric] for rec in records if metric in rec["metrics"]]
        row = table[("a", metric)]
        assert float(row[2][0]) == pytest.approx(values[-1])
        if metric == "similarity_max":  # the largest of a batch has no "best" over updates
            assert row[3][1] == "—" and row[4][1] == "—"
            continue
        best = min(values) if metric == "policy_loss" else max(values)
        assert float(row[3][0]) == pytest.approx(best)
    drawn = list((runs[0] / "svg" / "samples").glob("*.svg"))
    # updates 0, 10, 20 x (3 random + the best and worst when not among them)
    assert 9 < len(drawn) <= 15 and page.count("class='sample'") == len(drawn)
    for svg in page.split("<svg")[1:3]:
        ET.fromstring("<svg" + svg[: svg.index("</svg>") + 6])  # inline plots are well-formed XML


def test_two_runs_overlay_and_config_diff(runs, tmp_path):
    out = build_report(list(runs), tmp_path / "both.html", png=True)
    page = out.read_text()
    assert "#1f77b4" in page and "#d62728" in page  # one colour per run
    doc = parse(out)
    diff_keys = [r[0][1] for r in doc.rows if len(r) == 3]
    assert "train.learning_rate" in diff_keys and "storage.run_name" in diff_keys
    pngs = sorted(p.name for p in tmp_path.glob("both_*.png"))
    assert "both_reward.png" in pngs and "both_similarity.png" in pngs
    assert Path(tmp_path / "both_reward.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_partial_runs(tmp_path):
    run = make_run(tmp_path, "partial", updates=6, with_losses=False)
    with open(run / "batch_metrics.jsonl", "a") as f:
        f.write('{"timestamp": 1, "step": 99, "metr')  # torn last line of a run still being written
    assert read_run(run).steps == [0, 2, 4]
    doc = parse(build_report([run], tmp_path / "p.html"))
    assert (
        "Losses" not in doc.groups and "Gradient norm" not in doc.groups and "Reward" in doc.groups
    )


def test_missing_metrics_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="has no batch_metrics.jsonl"):
        build_report([tmp_path])
    assert cli_main(["report", str(tmp_path)]) == 2
    assert "has no batch_metrics.jsonl" in capsys.readouterr().err
    assert cli_main(["report", str(tmp_path / "typo")]) == 2
    assert capsys.readouterr().err.strip().endswith("typo does not exist (or is not a directory)")


def _chromium() -> str | None:
    return (
        shutil.which("chromium")
        or shutil.which("chromium-browser")
        or shutil.which("google-chrome")
    )


@pytest.mark.browser
@pytest.mark.slow
def test_report_renders_in_headless_chromium(runs, tmp_path):
    exe = _chromium()
    if exe is None:
        reason = "chromium is not installed (sudo apt-get install chromium; .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}: CI must run the browser test")  # required where CI is set
        pytest.skip(reason)
    out = build_report(list(runs), tmp_path / "view.html")
    shot = tmp_path / "shot.png"
    common = [
        exe,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--window-size=1200,2400",
        "--enable-logging=stderr",
        "--v=0",
    ]
    shot_run = subprocess.run(
        [*common, f"--screenshot={shot}", out.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert shot.exists(), shot_run.stderr[-2000:]
    from matplotlib.image import imread

    pixels = imread(shot)
    assert pixels.shape[0] > 1000 and pixels.std() > 0.05  # not blank
    dom = subprocess.run(
        [*common, "--dump-dom", out.as_uri()], capture_output=True, text=True, timeout=120
    )
    for section in (
        'id="curves"',
        'id="summary"',
        'id="config"',
        'id="gallery"',
        'data-metric-group="Similarity"',
    ):
        assert section in dom.stdout
    console_errors = [
        line
        for line in dom.stderr.splitlines() + shot_run.stderr.splitlines()
        if "CONSOLE" in line and "rror" in line
    ]
    assert not console_errors, console_errors


def test_bounds_baselines_episode_counts_and_env_steps_axis(tmp_path):
    """Std bands stop at physical limits, the trivial policies are drawn and tabled, the
    success rate says its N, and the x-axis is env steps when the run logged them."""
    cfg = jaxarc.load_config(
        [
            f"storage.base_output_dir={tmp_path}",
            "storage.run_name=bounded",
            "visualization.console=false",
            "storage.tensorboard=false",
            "logging.log_frequency=1",
            "logging.sampling_enabled=false",
        ]
    )
    with ExperimentLogger(cfg) as log:
        log.env_steps_per_update = 128
        for u in range(4):
            sims = jnp.asarray([0.0, 0.0, 0.0, 1.0] if u % 2 else [1.0, 1.0, 1.0, 0.0])
            log.log_batch_step(
                {
                    "update_step": u,
                    "similarity_scores": sims,  # mean ± std crosses 0 and 1 without clipping
                    "success_mask": sims >= 1.0,
                    "episodes_counted": 4 + u,
                }
            )
    (log.run_dir / "baselines.json").write_text(
        json.dumps(
            {
                "submit_at_once": {"similarity_mean": 0.378, "success_rate": 0.0, "episodes": 46},
                "random": {"similarity_mean": 0.18, "success_rate": 0.0, "episodes": 256},
            }
        )
    )
    page = build_report([log.run_dir], tmp_path / "b.html").read_text()
    assert "<!-- env steps -->" in page  # the x-axis label (matplotlib keeps text as comments)
    assert "Success rate (N = 4–7 episodes per update)" in page
    assert "submit at once (0.378)" in page and "random (0.18)" in page  # legend entries
    doc = parse(tmp_path / "b.html")
    rows = {r[1][1]: r for r in doc.rows if len(r) == 6}
    assert rows["submit at once"][3][1] == "0.378" and rows["random"][5][1] == "256"
    from jaxarc.report import _figure

    run = read_run(log.run_dir)
    fig = _figure("Similarity", [run], "similarity", x="env_steps")
    band = fig.axes[0].collections[0].get_paths()[0].vertices
    assert band[:, 1].min() >= 0.0 and band[:, 1].max() <= 1.0
    assert band[:, 0].min() == 128 and band[:, 0].max() == 512  # env steps, not updates


def test_hostile_run_files_are_skipped_with_a_count(tmp_path, caplog):
    run = make_run(tmp_path, "hostile", updates=6, with_losses=False)
    with open(run / "batch_metrics.jsonl", "ab") as f:
        f.write(b'{"timestamp": 1, "step": "ten", "metrics": {}}\n')
        f.write(b'{"timestamp": 1, "step": true, "metrics": {}}\n')
        f.write(b"\xff\xfe not utf-8\n")
        bad_value = {"reward_mean": "high", "similarity_mean": 0.5}
        f.write(json.dumps({"timestamp": "x", "step": 50, "metrics": bad_value}).encode() + b"\n")
        f.write(b'{"timestamp": 2, "step": 51, "metrics": {"similarity_mean": 0.6}}\n')
    (run / "config.yaml").write_text("train: [unclosed\n")
    with caplog.at_level("WARNING", logger="jaxarc"):
        data = read_run(run)
    assert data.steps == [0, 2, 4, 50, 51] and data.config == {}
    assert "skipped 3 unreadable line(s) and 1 value(s) that are not numbers" in caplog.text
    assert "config.yaml is unreadable" in caplog.text
    assert build_report([run], tmp_path / "h.html").exists()


def test_a_folder_of_runs_is_each_run_not_one_series(tmp_path, capsys):
    make_run(tmp_path, "first", updates=4)
    make_run(tmp_path, "second", updates=4, seed=1)
    page = build_report([tmp_path], tmp_path / "both.html").read_text()
    assert "first (2 logged updates" in page and "second (2 logged updates" in page
    with pytest.raises(
        FileNotFoundError, match="is a folder of 2 runs .first, second.: pass the runs"
    ):
        read_run(tmp_path)


def test_empty_or_truncated_pictures_are_skipped(tmp_path, caplog):
    run = make_run(tmp_path, "pictures", updates=12)
    samples = sorted((run / "svg" / "samples").glob("*.svg"))
    samples[0].write_text("")  # what a full disk used to leave
    samples[1].write_text(samples[1].read_text()[:50])
    with caplog.at_level("WARNING", logger="jaxarc"):
        page = build_report([run], tmp_path / "p.html").read_text()
    assert page.count("class='sample'") == len(samples) - 2
    assert "it is empty or incomplete" in caplog.text


def test_a_resumed_run_continues_its_parents_series_without_duplicates(tmp_path):
    parent = make_run(tmp_path, "parent", updates=12)  # steps 0, 2, ..., 10
    overrides = [f"storage.base_output_dir={tmp_path}", "storage.run_name=child"]
    overrides += ["visualization.console=false", "storage.tensorboard=false"]
    cfg = jaxarc.load_config([*overrides, "logging.log_frequency=2", f"train.resume={parent}"])
    with ExperimentLogger(cfg) as log:  # resumed from a checkpoint at 6: 6 and 8 are redone
        for u in range(6, 14):
            log.log_batch_step({"update_step": u, "episode_returns": jnp.full(4, 100.0 + u)})
    run = read_run(log.run_dir, follow_resume=True)
    assert run.steps == [0, 2, 4, 6, 8, 10, 12]
    assert run.metrics["reward_mean"][3:] == [106.0, 108.0, 110.0, 112.0]  # the child's values
    assert read_run(log.run_dir).steps == [6, 8, 10, 12]  # alone, as written
    page = build_report([log.run_dir], tmp_path / "child.html").read_text()
    assert "child (7 logged updates, last update 12)" in page

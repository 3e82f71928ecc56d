"""Two processes on loopback with jax.distributed (CPU collectives): one writes, its numbers
cover both."""

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import jaxarc
from jaxarc.logging import read_run
from jaxarc.report import build_report
from jaxarc.train import train
from tests.test_train import easy_overrides

pytestmark = pytest.mark.slow

WORKER = textwrap.dedent(
    """
    import sys, jax
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=sys.argv[1], num_processes=2, process_id=int(sys.argv[2])
    )
    import jaxarc
    from jaxarc.train import train
    from tests.test_train import easy_overrides
    assert jax.process_count() == 2 and len(jax.devices()) == 2 and len(jax.local_devices()) == 1
    result = train(jaxarc.load_config(easy_overrides(sys.argv[3], sys.argv[4], 6)))
    print("RESULT", jax.process_index(), result.run_dir, flush=True)
    jax.distributed.shutdown()
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_one_writer(easy_dir, tmp_path):
    out = tmp_path / "two"
    address = f"127.0.0.1:{free_port()}"
    env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS="")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, address, str(i), str(easy_dir), str(out)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).parents[1],
        )
        for i in range(2)
    ]
    outputs = [p.communicate(timeout=600) for p in procs]
    for p, (_, se) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, se[-4000:]
    lines = {
        int(line.split()[1]): line.split()[2]
        for so, _ in outputs
        for line in so.splitlines()
        if line.startswith("RESULT")
    }
    assert lines[1] == "None" and lines[0] != "None"  # only process 0 has a run directory
    assert [p.name for p in out.iterdir()] == [Path(lines[0]).name]
    two = read_run(lines[0])
    one = read_run(train(jaxarc.load_config(easy_overrides(easy_dir, tmp_path / "one", 6))).run_dir)
    assert two.steps == one.steps == [0, 5]
    # the metrics cover all 32 environments of both processes: the same numbers as one process
    # with all of them
    for key in ("similarity_mean", "reward_mean", "episode_length_mean"):
        np.testing.assert_allclose(two.metrics[key], one.metrics[key], rtol=1e-4, atol=1e-5)
    assert json.loads((Path(lines[0]) / "checkpoint.json").read_text())["update"] == 6
    page = build_report([lines[0]], tmp_path / "two.html").read_text()  # a two-process run
    # 3 random samples at update 0 and 3 at the final update 5, + the best and worst of each
    drawn = list((Path(lines[0]) / "svg" / "samples").glob("*.svg"))
    assert 6 <= len(drawn) <= 10 and page.count("class='sample'") == len(drawn)
    assert "data-metric-group='Similarity'" in page

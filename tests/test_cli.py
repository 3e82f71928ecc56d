"""What a newcomer meets at the command line: help, the resolved config, one-line errors."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

import jaxarc
from jaxarc.cli import main as cli_main


def test_help_lists_groups_presets_and_keys(capsys):
    with pytest.raises(SystemExit) as stop:
        cli_main(["train", "--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert "dataset        agi1, agi1_small*, agi2, folder, miniarc" in out  # * marks the default
    assert "logging        basic, batched*" in out
    assert "num_envs" in out and "sample_frequency" in out and "max_episode_steps" in out


def test_cfg_job_prints_the_resolved_config_and_trains_nothing(capsys, tmp_path):
    code = cli_main(
        ["train", "--cfg", "job", "train.num_envs=8", f"storage.base_output_dir={tmp_path}"]
    )
    assert code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert (
        printed
        == jaxarc.load_config(["train.num_envs=8", f"storage.base_output_dir={tmp_path}"]).to_dict()
    )
    assert printed["train"]["num_envs"] == 8 and not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("num_envs=8", "did you mean 'train.num_envs'?"),
        ("trian.num_envs=8", "did you mean 'train.num_envs'?"),
        ("train.num_env=8", "did you mean 'train.num_envs'?"),
        ("dataset=agi3", "valid choices for 'dataset': agi1, agi1_small, agi2, folder, miniarc"),
    ],
)
def test_config_mistakes_are_one_clear_message(override, message, capsys, tmp_path):
    assert cli_main(["train", override, f"storage.base_output_dir={tmp_path}"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not any(tmp_path.iterdir())  # no stale run directory


def test_unknown_task_id_is_a_sentence_not_a_repr(capsys, tmp_path):
    args = ["train", "dataset.task_ids=[007bbfb8]", f"storage.base_output_dir={tmp_path}"]
    assert cli_main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "jaxarc train: unknown task id(s): 007bbfb8 (did you mean 007bbfb7, bb43febb, 8a004b2b?)"
        " (--debug shows the traceback)"
    )


def test_a_missing_extra_is_one_line_before_any_run_directory(monkeypatch, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a)
    )
    cfg = jaxarc.load_config(["wandb.enabled=true", f"storage.base_output_dir={tmp_path}"])
    with pytest.raises(
        ImportError,
        match=r"^wandb.enabled=true needs the wandb package: pip install 'jaxarc\[wandb\]'",
    ):
        jaxarc.ExperimentLogger(cfg)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("name", ["../escaped", "/tmp/anywhere", "a/b", "..", "x" * 300])
def test_run_name_is_one_directory_name(name, capsys, tmp_path):
    base = tmp_path / "runs"
    assert cli_main(["train", f"storage.base_output_dir={base}", f"storage.run_name={name}"]) == 2
    err = capsys.readouterr().err
    assert "storage.run_name" in err and "Traceback" not in err
    assert not any(tmp_path.iterdir())  # nothing written, not even beside the base dir


def test_an_unusable_output_dir_is_one_line_before_anything_compiles(capsys, tmp_path):
    import os

    a_file = tmp_path / "file"
    a_file.write_text("")
    cases = [(a_file, "is a file"), (a_file / "below", f"is under the file {a_file}")]
    if os.geteuid() != 0:  # root may write anywhere: there a read-only directory is no problem
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        cases.append((locked / "runs", "is not writable"))
    for base, message in cases:
        assert cli_main(["train", f"storage.base_output_dir={base}"]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err


def test_a_checkpoint_that_cannot_be_written_says_why_and_leaves_nothing(tmp_path, monkeypatch):
    import errno
    from types import SimpleNamespace

    import jax.numpy as jnp
    import orbax.checkpoint as ocp

    from jaxarc.train import checkpoint

    def full(self, step, args=None, **kwargs):
        tmp = Path(self.directory) / f"{step}.orbax-checkpoint-tmp-1"
        tmp.mkdir(parents=True)
        (tmp / "partial").write_bytes(b"partial")  # what a full disk leaves
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ocp.CheckpointManager, "save", full)
    arrays = {"model": jnp.zeros(3), "opt_state": jnp.zeros(2), "key": jnp.zeros(2, jnp.uint32)}
    runner = SimpleNamespace(
        **arrays,
        update=jnp.int32(3),
        diverged=jnp.bool_(False),
        env_state=jnp.zeros(4),
        tasks=jnp.zeros(1),
        updates_done=lambda: 3,
    )
    with pytest.raises(
        OSError, match=r"could not write the checkpoint .*: No space left on device"
    ):
        checkpoint.save_checkpoint(tmp_path, runner)
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoints"]  # no checkpoint.json
    assert list((tmp_path / "checkpoints").iterdir()) == []  # no partial checkpoint, no tmp

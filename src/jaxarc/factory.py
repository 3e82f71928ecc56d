"""``jaxarc.make``: a dataset id and a config in, an environment and its params out."""

from __future__ import annotations

import dataclasses

from .config import JaxArcConfig
from .data import load_task_buffer, resolve_dataset_id
from .envs.environment import Environment, EnvParams


def make(
    dataset_id: str | JaxArcConfig | None = None, config: JaxArcConfig | None = None
) -> tuple[Environment, EnvParams]:
    """Create the environment and its parameters.

    Args:
        dataset_id: ``"AGI1-train"``, ``"AGI1-eval"``, ``"AGI2-train"``, ``"AGI2-eval"``, one
            task such as ``"AGI1-007bbfb7"``, or a folder of ARC JSON files. ``None`` uses
            ``config.dataset`` as it is.
        config: a :class:`JaxArcConfig` (also accepted as the only positional argument);
            default: ``JaxArcConfig()`` (ARC-AGI-1 training tasks at 30×30, 100-step
            episodes).

    Returns:
        ``(env, params)``: ``env.reset(key, params)`` / ``env.step(state, action, params)``.
    """
    if isinstance(dataset_id, JaxArcConfig):
        if config is not None:
            raise TypeError("make() got two configs: pass make(config) or make(dataset_id, config)")
        dataset_id, config = None, dataset_id
    if config is None:
        config = JaxArcConfig()
    elif not isinstance(config, JaxArcConfig):
        raise TypeError(f"config must be a jaxarc.JaxArcConfig, got {type(config).__name__}")
    dataset = (
        config.dataset if dataset_id is None else resolve_dataset_id(dataset_id, config.dataset)
    )
    config = dataclasses.replace(config, dataset=dataset)
    buffer = load_task_buffer(config.dataset)
    params = EnvParams.create(buffer, config.environment, config.action, config.reward)
    return Environment(), params

"""jaxarc as a Jumanji environment, for trainers written against Jumanji (Stoix, Mava).

    from jaxarc.compat.jumanji import JumanjiARC
    env = JumanjiARC(params)                   # params: from jaxarc.make(...)
    state, timestep = env.reset(key)
    state, timestep = env.step(state, action)

- **Observations** are jaxarc's :class:`~jaxarc.types.Observation` (a pytree of grids), with
  ``observation_spec`` a ``specs.Spec`` of one bounded array per field.
- **Actions** (``action=``): ``"bbox"`` (default) is ``int32[5]`` ``(operation, r1, c1, r2,
  c2)`` with a ``specs.MultiDiscreteArray`` spec, exactly
  :class:`~jaxarc.envs.wrappers.BboxActionWrapper`; ``"point"`` is one integer over allowed
  operation × cell with a ``specs.DiscreteArray`` spec.
- **TimeSteps** are Jumanji's: ``StepType.LAST`` ends an episode, with discount 0 on submit and
  1 on truncation (the step limit); ``extras`` holds ``similarity``, ``operation``,
  ``success`` and ``invalid_action``. No automatic reset: wrap with
  ``jumanji.wrappers.AutoResetWrapper`` (the state carries the ``key`` it needs).

Tested with jumanji 1.1.2.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from . import require

require("jumanji", "jumanji")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jumanji import specs  # noqa: E402
from jumanji.env import Environment as JumanjiEnvironment  # noqa: E402
from jumanji.types import StepType as JStepType  # noqa: E402
from jumanji.types import TimeStep as JTimeStep  # noqa: E402

from ..envs.environment import EnvParams, reset, step  # noqa: E402
from ..types import NUM_OPERATIONS, Observation, State, TimeStep  # noqa: E402
from .common import allowed_operation_ids, bbox_action, point_action  # noqa: E402

ACTIONS = ("bbox", "point")


def to_jumanji(ts: TimeStep) -> JTimeStep[Observation]:
    """jaxarc's timestep as Jumanji's (FIRST/MID as they are; TERMINATED and TRUNCATED are
    LAST, told apart by the discount)."""
    step_type = jnp.where(ts.last(), JStepType.LAST, ts.step_type).astype(jnp.int8)
    extras = {name: ts.extras[name] for name in ts.extras.keys()}  # noqa: SIM118
    return JTimeStep(
        step_type=step_type,  # type: ignore[arg-type]  # an int8 array, as jumanji's own envs
        reward=ts.reward,
        discount=ts.discount,
        observation=ts.observation,
        extras=extras,
    )


class JumanjiARC(JumanjiEnvironment[State, specs.BoundedArray, Observation]):
    """A ``jumanji.Environment`` over jaxarc's tasks (see the module docstring)."""

    def __init__(self, params: EnvParams, action: str = "bbox"):
        if action not in ACTIONS:
            raise ValueError(f"action must be one of {ACTIONS}, got {action!r}")
        self.params = params
        self.action = action
        self.operations = allowed_operation_ids(params)
        self.grid_shape = params.buffer.grid_shape
        super().__init__()  # Jumanji's own check: every spec can be built

    def reset(self, key: jax.Array) -> tuple[State, JTimeStep[Observation]]:
        state, ts = reset(key, self.params)
        return state, to_jumanji(ts)

    def step(self, state: State, action: jax.Array) -> tuple[State, JTimeStep[Observation]]:
        if self.action == "bbox":
            arc_action = bbox_action(action, self.grid_shape)
        else:
            arc_action = point_action(action, self.operations, self.grid_shape)
        state, ts = step(state, arc_action, self.params)
        return state, to_jumanji(ts)

    @cached_property
    def observation_spec(self) -> specs.Spec[Observation]:
        h, w = self.grid_shape

        def grid(name: str) -> specs.BoundedArray:
            return specs.BoundedArray((h, w), jnp.int8, 0, 9, name)

        def mask(name: str) -> specs.Array:
            return specs.Array((h, w), jnp.bool_, name)

        return specs.Spec(
            Observation,
            "ObservationSpec",
            working_grid=grid("working_grid"),
            working_grid_mask=mask("working_grid_mask"),
            input_grid=grid("input_grid"),
            input_grid_mask=mask("input_grid_mask"),
            target_grid=grid("target_grid"),
            target_grid_mask=mask("target_grid_mask"),
            selection=mask("selection"),
            clipboard=grid("clipboard"),
            clipboard_mask=mask("clipboard_mask"),
            step_count=specs.BoundedArray(
                (), jnp.int32, 0, self.params.max_episode_steps, "step_count"
            ),
        )

    @cached_property
    def action_spec(self) -> specs.BoundedArray:
        h, w = self.grid_shape
        if self.action == "point":
            return specs.DiscreteArray(len(self.operations) * h * w, jnp.int32, "action")
        return specs.MultiDiscreteArray(
            jnp.array([NUM_OPERATIONS, h, w, h, w], jnp.int32), jnp.int32, "action"
        )

    def render(self, state: State) -> Any:
        """The working grid as an SVG string (see :mod:`jaxarc.viz`)."""
        from ..viz.grids import as_grid
        from ..viz.svg import grid_svg

        grid = as_grid(state)
        return grid_svg(grid if grid is not None else np.zeros((0, 0), np.int8))

    def __repr__(self) -> str:
        return (
            f"JumanjiARC(tasks={self.params.buffer.num_tasks}, grid={self.grid_shape}, "
            f"action={self.action!r})"
        )

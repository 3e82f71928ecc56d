"""The batch-data contract: the design's keys and the metric names they become.

This table is the one place that names them. The planner reads it to know what each key
is, the decoder to name and order the numbers, the Rich table and the report to group
them, and the trainer to build its ``batch_data``. See ``docs/batched-logging.md``.

A ``[B]`` key becomes four metrics ``<metric>_mean/_std/_max/_min`` (over finite values of
finished episodes); ``success_mask`` becomes one rate; a scalar keeps its name. A value
left out because it was NaN/inf is counted in ``<metric>_nonfinite``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

STAT_NAMES = ("mean", "std", "max", "min")
NONFINITE_SUFFIX = "_nonfinite"


@dataclass(frozen=True)
class MetricSpec:
    """One key of the design's ``batch_data`` and what it is logged as.

    Attributes:
        key: the ``batch_data`` key.
        metric: the metric name (the prefix of the four statistics for a ``[B]`` key).
        kind: ``"vector"`` (``[B]`` → mean/std/max/min), ``"rate"`` (``[B]`` bool → its
            mean) or ``"scalar"`` (passed through).
        flag: the ``LoggingConfig`` flag that switches it off (``None``: always on).
        group: the console table's group.
        panel: the report's panel (metrics sharing a panel are drawn together; ``None``: not
            drawn as a curve).
        better: ``"higher"``/``"lower"`` where a best value means something, else ``None``.
        bounds: the physical ``(low, high)`` limits of the value (``None``: unbounded), so
            that a drawn spread never crosses them.
    """

    key: str
    metric: str
    kind: Literal["vector", "rate", "scalar"]
    flag: str | None
    group: str
    panel: str | None
    better: Literal["higher", "lower"] | None = None
    bounds: tuple[float | None, float | None] = (None, None)

    @property
    def names(self) -> tuple[str, ...]:
        """The metric names this key can produce (``_nonfinite`` counts aside)."""
        if self.kind == "vector":
            return tuple(f"{self.metric}_{s}" for s in STAT_NAMES)
        return (self.metric,)


CONTRACT: tuple[MetricSpec, ...] = (
    MetricSpec(
        "episode_returns",
        "reward",
        "vector",
        "log_aggregated_rewards",
        "Reward",
        "Reward",
        "higher",
    ),
    MetricSpec(
        "similarity_scores",
        "similarity",
        "vector",
        "log_aggregated_similarity",
        "Similarity",
        "Similarity",
        "higher",
        (0.0, 1.0),
    ),
    MetricSpec(
        "episode_lengths",
        "episode_length",
        "vector",
        "log_episode_lengths",
        "Episode length",
        "Episode length",
        None,
        (0.0, None),
    ),
    MetricSpec(
        "success_mask",
        "success_rate",
        "rate",
        "log_success_rates",
        "Success rate",
        "Success rate",
        "higher",
        (0.0, 1.0),
    ),
    MetricSpec(
        "policy_loss", "policy_loss", "scalar", "log_loss_metrics", "Training", "Losses", "lower"
    ),
    MetricSpec(
        "value_loss", "value_loss", "scalar", "log_loss_metrics", "Training", "Losses", "lower"
    ),
    MetricSpec(
        "gradient_norm",
        "gradient_norm",
        "scalar",
        "log_gradient_norms",
        "Training",
        "Gradient norm",
    ),
    MetricSpec("entropy", "entropy", "scalar", None, "Training", "Entropy"),
    MetricSpec(
        "explained_variance",
        "explained_variance",
        "scalar",
        None,
        "Training",
        "Explained variance",
        "higher",
    ),
    MetricSpec("learning_rate", "learning_rate", "scalar", None, "Training", "Learning rate"),
    # how many episodes the statistics above come from (the N of success_rate): one per
    # environment that finished an episode during the rollout, its last one
    MetricSpec("episodes_counted", "episodes_counted", "scalar", None, "Progress", None),
    # added by the logger when it knows env_steps_per_update (ExperimentLogger)
    MetricSpec("env_steps", "env_steps", "scalar", None, "Progress", None),
    MetricSpec(
        "env_steps_per_second", "env_steps_per_second", "scalar", None, "Progress", "Throughput"
    ),
)
BY_KEY: dict[str, MetricSpec] = {spec.key: spec for spec in CONTRACT}
BY_METRIC: dict[str, MetricSpec] = {spec.metric: spec for spec in CONTRACT}

#: ``[B]`` bool keys that say which entries count (episodes that finished).
MASK_KEYS = ("episode_done_mask", "valid_mask")
#: ``[B, ...]`` pytrees, only ever sampled (never reduced). ``episode_actions`` is
#: ``int[B, S, 5]``: each finished episode's bbox actions ``(op, r1, c1, r2, c2)``, ``-1`` rows
#: past its length (a jaxarc extension, for step-by-step replays).
STATE_KEYS = ("initial_states", "final_states", "target_states", "episode_actions")
#: the per-env key the best and worst sampled episodes are chosen by
EXTREMES_KEY = "similarity_scores"
#: Keys that are never statistics themselves.
NOT_METRICS = ("update_step", "task_ids", *STATE_KEYS, *MASK_KEYS)
#: Per-environment keys a sampled episode summary is built from.
PER_ENV_KEYS = (*(s.key for s in CONTRACT if s.kind != "scalar"), *MASK_KEYS)

#: Display order of metrics: the contract's, then anything else in the order it came.
METRIC_ORDER: dict[str, int] = {spec.metric: i for i, spec in enumerate(CONTRACT)}


def spec_of(name: str) -> MetricSpec | None:
    """The contract entry a metric name (``reward_mean``, ``value_loss_nonfinite``...) comes
    from."""
    base = name.removesuffix(NONFINITE_SUFFIX)
    if base in BY_METRIC:
        return BY_METRIC[base]
    prefix, _, stat = base.rpartition("_")
    spec = BY_METRIC.get(prefix)
    return spec if spec is not None and spec.kind == "vector" and stat in STAT_NAMES else None


def group_of(name: str) -> str:
    """The console group of a metric name (``"Other"`` for keys outside the contract)."""
    spec = spec_of(name)
    return spec.group if spec is not None else "Other"


def better_of(name: str) -> str | None:
    """``"higher"``/``"lower"`` where a best value of this metric means something, else ``None``
    (the spread and extremes of a batch have no "best"; neither do unknown metrics)."""
    spec = spec_of(name)
    if spec is None or name.endswith(NONFINITE_SUFFIX):
        return None
    if spec.kind == "vector" and not name.endswith("_mean"):
        return None
    return spec.better


#: Console groups in display order.
GROUPS: tuple[str, ...] = (*dict.fromkeys(spec.group for spec in CONTRACT), "Other")
#: Report panels in display order: (title, metric names drawn there, is a [B] statistic group).
PANELS: tuple[tuple[str, tuple[str, ...], bool], ...] = tuple(
    (
        panel,
        tuple(s.metric for s in CONTRACT if s.panel == panel),
        any(s.kind == "vector" for s in CONTRACT if s.panel == panel),
    )
    for panel in dict.fromkeys(spec.panel for spec in CONTRACT if spec.panel is not None)
)


def bounds_of(name: str) -> tuple[float | None, float | None]:
    """The physical limits of a metric's values (``(None, None)`` when unknown)."""
    spec = spec_of(name)
    return spec.bounds if spec is not None else (None, None)

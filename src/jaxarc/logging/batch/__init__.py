"""The numeric half of batched logging, one idea per module:

- :mod:`.contract` — the design's batch keys and the metric names they become;
- :mod:`.plan` — checking ``batch_data`` (shapes and types, no device work), once per layout;
- :mod:`.reduce` — one fused jitted reduction, fetched in one transfer, and its decoding;
- :mod:`.sample` — deterministic sampling of environments, rows gathered on device;
- :mod:`.pipeline` — the one pipeline the host path and the in-jit path both run;
- :mod:`.reference` — the same statistics in plain numpy, for reading and for tests.
"""

from .contract import CONTRACT, MASK_KEYS, STATE_KEYS, MetricSpec, group_of, spec_of
from .pipeline import BatchPipeline, Cadence, Event, Fetched, host_stage, select
from .plan import Layout, Plan, PlanCache, contains_tracer, is_tracer, plan_batch
from .reduce import SHORTCUT_MIN_BATCH, decode, reduce_device
from .reference import reference
from .sample import gather_rows, sample_indices, summaries

__all__ = [
    "CONTRACT",
    "MASK_KEYS",
    "SHORTCUT_MIN_BATCH",
    "STATE_KEYS",
    "BatchPipeline",
    "Cadence",
    "Event",
    "Fetched",
    "Layout",
    "MetricSpec",
    "Plan",
    "PlanCache",
    "contains_tracer",
    "decode",
    "gather_rows",
    "host_stage",
    "is_tracer",
    "group_of",
    "plan_batch",
    "reduce_device",
    "reference",
    "sample_indices",
    "select",
    "spec_of",
    "summaries",
]

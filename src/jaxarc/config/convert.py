"""Turning plain mappings (Hydra ``DictConfig``s, YAML, dicts) into typed sections.

Every problem is collected, not raised one by one, so that a user sees all of them at once.
Keys that older versions knew are dropped here with one ``DeprecationWarning`` each.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
import warnings
from collections.abc import Mapping
from typing import Any, Literal

#: Keys that older configs may still carry: ``(section, key) -> why it is gone``. They load
#: with one ``DeprecationWarning`` and are ignored.
#: The async-logging keys the batched-logging design removed.
REMOVED_LOGGING_KEYS = (
    "queue_size",
    "worker_threads",
    "batch_size",
    "flush_interval",
    "enable_compression",
)

#: Keys that older configs may still carry: ``(section, key) -> why it is gone``. They load
#: with one ``DeprecationWarning`` and are ignored.
REMOVED_KEYS: dict[tuple[str, str], str] = {
    ("logging", k): "belonged to the removed async logger (batched logging replaces it)"
    for k in REMOVED_LOGGING_KEYS
}


class ConfigValidationError(ValueError):
    """Raised when a configuration has one or more invalid values; lists every problem."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"Invalid jaxarc configuration ({len(self.problems)} problem(s)):\n{lines}"
        )


def plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def to_container(cfg: Any) -> dict[str, Any]:
    """A plain ``dict`` from a ``DictConfig``, a mapping or ``None``."""
    if cfg is None:
        return {}
    from omegaconf import DictConfig, OmegaConf

    if isinstance(cfg, DictConfig):
        return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
    if not isinstance(cfg, Mapping):
        raise ConfigValidationError([f"configuration must be a mapping, got {type(cfg).__name__}"])
    return dict(cfg)


def drop_removed_keys(raw: Mapping[str, Any], section: str) -> dict[str, Any]:
    """``raw`` without the keys older versions knew, warning once per call that had any."""
    found = {k: why for (s, k), why in REMOVED_KEYS.items() if s == section and k in raw}
    if found:
        listed = "; ".join(f"{section}.{k} {why}" for k, why in found.items())
        warnings.warn(
            f"ignoring removed configuration keys {list(found)}: {listed}. Delete them from your "
            "config (see conf/logging/batched.yaml for the current logging keys).",
            DeprecationWarning,
            stacklevel=5,
        )
    return {k: v for k, v in raw.items() if k not in found}


def unknown_key(key: str, prefix: str, known: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    hint = f"; did you mean '{prefix}{close[0]}'?" if close else f"; valid keys: {sorted(known)}"
    return f"unknown key '{prefix}{key}'{hint}"


def build_section(cls: type, raw: dict[str, Any], section: str, problems: list[str]) -> Any:
    """``cls(**raw)`` with every value type-checked; problems are appended, bad values skipped."""
    raw = drop_removed_keys(raw, section)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in raw.items():
        if key not in fields:
            problems.append(unknown_key(key, f"{section}.", fields))
            continue
        ok, coerced = _coerce(value, hints[key])
        if ok:
            kwargs[key] = coerced
        else:
            problems.append(
                f"{section}.{key} must be {_describe(hints[key])}, "
                f"got {value!r} ({type(value).__name__})"
            )
    return cls(**kwargs)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


#: plain types: (accepts the value?, converts it)
_SCALARS: dict[type, tuple[Any, Any]] = {
    bool: (lambda v: isinstance(v, bool), lambda v: v),
    int: (lambda v: isinstance(v, int) and not isinstance(v, bool), lambda v: v),
    float: (_is_number, float),
    # a number is accepted where text is expected (YAML reads the task id 22168020 as an int)
    str: (lambda v: isinstance(v, str) or _is_number(v), str),
}


def _coerce(value: Any, tp: Any) -> tuple[bool, Any]:
    """``(True, value as tp)`` when ``value`` fits the annotation ``tp``, else ``(False, None)``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return True, None
        fits = (_coerce(value, arg) for arg in args if arg is not type(None))
        return next((fit for fit in fits if fit[0]), (False, None))
    if origin is Literal:
        return (value in args), value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            return False, None
        items = [_coerce(v, args[0]) for v in value]
        return all(ok for ok, _ in items), tuple(v for _, v in items)
    if tp in _SCALARS:
        accepts, convert = _SCALARS[tp]
        return (True, convert(value)) if accepts(value) else (False, None)
    return False, None


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin is tuple:
        return f"a list of {_describe(args[0])}"
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        type(None): "null",
    }.get(tp, str(tp))

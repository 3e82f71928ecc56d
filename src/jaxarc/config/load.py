"""Compose the packaged Hydra configuration into a validated :class:`JaxArcConfig`.

The dataclass defaults are registered in Hydra's ``ConfigStore`` as ``jaxarc_defaults`` and
are the first entry of ``conf/config.yaml``'s defaults list; the YAML files of each group are
named presets that change a few values on top of them.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .convert import ConfigValidationError, to_container
from .schema import JaxArcConfig, unknown_top_level_key

DEFAULTS_NODE = "jaxarc_defaults"


def compose(overrides: Sequence[str] = ()) -> Any:
    """Compose ``jaxarc/conf/config.yaml`` with Hydra overrides; returns a ``DictConfig``."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    _register_defaults()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module="jaxarc.conf", version_base=None):
            return hydra_compose(config_name="config", overrides=list(overrides))
    except (HydraException, OmegaConfBaseException) as err:
        raise ConfigValidationError([_explain_override_error(err)]) from None


def _register_defaults() -> None:
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name=DEFAULTS_NODE, node=JaxArcConfig().to_dict())


def load_config(
    overrides: Sequence[str] = (), config_file: str | Path | None = None
) -> JaxArcConfig:
    """Return the packaged configuration with ``overrides`` applied, validated.

    Args:
        overrides: Hydra overrides, e.g. ``["logging=batched", "logging.num_samples=5"]``.
        config_file: optional YAML file (a full or partial config, e.g. a run's saved
            ``config.yaml``) whose values are merged over the packaged defaults; then only
            the keys (or groups) named in ``overrides`` are set from them.
    """
    cfg = compose(overrides)
    if config_file is None:
        return JaxArcConfig.from_hydra(cfg)
    from omegaconf import OmegaConf

    path = Path(config_file)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    loaded: Any = OmegaConf.to_container(OmegaConf.load(path), resolve=True) or {}
    if not isinstance(loaded, Mapping):
        raise ConfigValidationError(
            [f"{path}: expected a mapping of sections, got {type(loaded).__name__}"]
        )
    merged = _deep_merge(to_container(compose(())), loaded)  # the defaults, then the file
    for key in _override_keys(overrides):  # then what the command line says, and only that
        value = OmegaConf.select(cfg, key)
        if OmegaConf.is_config(value):
            value = OmegaConf.to_container(value, resolve=True)
        _set(merged, key.split("."), value)
    return JaxArcConfig.from_hydra(merged)


def _override_keys(overrides: Sequence[str]) -> list[str]:
    """The config keys (or whole groups, e.g. ``dataset``) that ``overrides`` set."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return [o.key_or_group for o in OverridesParser.create().parse_overrides(list(overrides))]


def _set(tree: dict[str, Any], path: list[str], value: Any) -> None:
    for name in path[:-1]:
        tree = tree.setdefault(name, {})
    tree[path[-1]] = value


def _deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def _explain_override_error(err: Exception) -> str:
    text = str(err)
    match = re.search(r"Key '([\w.]+)' is not in struct|Could not override '([\w.]+)'", text)
    if match:
        key = match.group(1) or match.group(2)
        section, _, name = key.rpartition(".")
        target = getattr(JaxArcConfig(), section, None) if section else None
        if target is None or not dataclasses.is_dataclass(target):
            return unknown_top_level_key(key)
        names = [f.name for f in dataclasses.fields(target)]
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"did you mean '{section}.{close[0]}'?" if close else f"valid keys: {names}"
        return f"unknown key '{key}': {hint}"
    text = text.split("Config search path")[0].strip()
    head, _, options = text.partition("Available options in")
    if options:
        group, _, choices = options.partition(":")
        text = f"{head.strip()}; valid choices for {group.strip()}: {', '.join(choices.split())}"
    return text.replace("In 'config': ", "")

"""Config composition, overrides, validation and migration (real Hydra)."""

import dataclasses
import logging
import warnings

import pytest
import yaml

import jaxarc
from jaxarc.config import (
    REMOVED_LOGGING_KEYS,
    ConfigValidationError,
    JaxArcConfig,
    LoggingConfig,
    validate_batched_logging_config,
)


def test_default_config_composes_and_is_hashable():
    cfg = jaxarc.load_config()
    assert isinstance(cfg, JaxArcConfig)
    assert cfg.logging.batched_logging_enabled  # the main job logs batched by default
    assert hash(cfg) == hash(jaxarc.load_config())
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.logging.num_samples = 4  # type: ignore[misc]


def test_overrides_apply():
    cfg = jaxarc.load_config(
        ["logging=basic", "logging.log_frequency=7", "train.num_envs=8", "wandb.tags=[a,b]"]
    )
    assert not cfg.logging.batched_logging_enabled
    assert (
        cfg.logging.log_frequency == 7 and cfg.train.num_envs == 8 and cfg.wandb.tags == ("a", "b")
    )
    cfg = jaxarc.load_config(["logging=batched", "logging.num_samples=5"])
    assert cfg.logging.num_samples == 5 and cfg.logging.batched_logging_enabled


def test_envs_config_is_the_design_name_for_jaxarc_config():
    import jaxarc.config
    import jaxarc.envs.config

    for name in jaxarc.config.__all__:
        assert getattr(jaxarc.envs.config, name) is getattr(jaxarc.config, name)


def _presets():
    from importlib.resources import files

    conf = files("jaxarc.conf")
    return [
        (group.name, f)
        for group in conf.iterdir()
        if group.is_dir()
        for f in group.iterdir()
        if f.name.endswith(".yaml")
    ]


def test_presets_only_change_defaults_and_carry_no_removed_keys():
    """The dataclasses are the one source of defaults: a preset never repeats one."""
    defaults = JaxArcConfig().to_dict()
    presets = _presets()
    assert len(presets) >= 15
    for group, f in presets:
        values = yaml.safe_load(f.read_text()) or {}
        assert not set(values) & set(REMOVED_LOGGING_KEYS), f.name
        assert set(values) <= set(defaults[group]), f"{group}/{f.name} has unknown keys"
        if (group, f.name) == ("logging", "batched.yaml"):
            continue  # the design's file, value for value (tests/test_design_contract.py)
        same = [k for k, v in values.items() if defaults[group][k] == v]
        assert not same, f"{group}/{f.name} repeats the dataclass defaults of {same}"


def test_composed_config_is_the_dataclasses_plus_the_chosen_presets():
    plain = jaxarc.load_config(
        [
            "environment=default",
            "dataset=agi1",
            "action=default",
            "reward=default",
            "train=plain",
            "logging.per_task_metrics=false",
            "logging.sample_best_worst=false",
        ]
    )
    batched = dataclasses.replace(LoggingConfig(), batched_logging_enabled=True)
    assert plain == dataclasses.replace(JaxArcConfig(), logging=batched)
    small = jaxarc.load_config()  # what `jaxarc train` runs: short episodes on the 6x6 tasks
    assert small.environment.max_episode_steps == 16
    assert (small.dataset.max_grid_size, small.dataset.max_task_size) == (6, 6)
    assert list(small.action.allowed_operations) == [*range(10), 33, 34]
    assert (small.reward.similarity_reward, small.reward.success_bonus) == ("best", 5.0)
    assert (small.train.update_epochs, small.train.num_updates) == (8, 300)
    assert small.logging.per_task_metrics and small.logging.sample_best_worst


def test_validation_reports_every_problem_at_once():
    with pytest.raises(ConfigValidationError) as err:
        jaxarc.load_config(
            [
                "logging.num_samples=0",
                "logging.sample_frequency=-1",
                "logging.log_frequency=0",
                "train.num_envs=0",
            ]
        )
    msg = str(err.value)
    for text in (
        "logging.num_samples must be positive",
        "logging.sample_frequency must be positive",
        "logging.log_frequency must be positive",
        "train.num_envs must be positive",
    ):
        assert text in msg
    assert len(err.value.problems) == 4


def test_design_validator_and_large_num_samples_warns(caplog):
    assert validate_batched_logging_config(LoggingConfig()) == []
    assert validate_batched_logging_config(LoggingConfig(num_samples=-2)) == [
        "logging.num_samples must be positive (got -2)"
    ]
    with caplog.at_level(logging.WARNING, logger="jaxarc"):
        cfg = jaxarc.load_config(["logging.num_samples=5000"])
    assert cfg.logging.num_samples == 5000
    assert "num_samples is very large: 5000" in caplog.text


def test_unknown_keys_suggest_the_closest_name():
    with pytest.raises(
        ConfigValidationError,
        match=r"unknown key 'logging.num_sample'.*did you mean 'logging.num_samples'",
    ):
        jaxarc.load_config(["logging.num_sample=3"])
    with pytest.raises(
        ConfigValidationError, match=r"unknown key 'logging.log_frequncy'.*'logging.log_frequency'"
    ):
        JaxArcConfig.from_hydra({"logging": {"log_frequncy": 3}})
    with pytest.raises(ConfigValidationError, match="unknown key 'loging'.*did you mean 'logging'"):
        JaxArcConfig.from_hydra({"loging": {}})
    with pytest.raises(ConfigValidationError, match="Could not find 'dataset/nope'.*agi1_small"):
        jaxarc.load_config(["dataset=nope"])


def test_wrong_types_and_ranges():
    with pytest.raises(ConfigValidationError) as err:
        JaxArcConfig.from_hydra(
            {
                "logging": {"num_samples": "three", "log_level": "LOUD", "compression": 1},
                "dataset": {"max_grid_size": 31},
                "action": {"allowed_operations": [0, 40]},
            }
        )
    msg = str(err.value)
    assert "logging.num_samples must be an integer, got 'three'" in msg
    assert "logging.log_level must be one of 'DEBUG', 'INFO', 'WARNING', 'ERROR'" in msg
    assert "logging.compression must be a boolean" in msg
    assert "dataset.max_grid_size must be in 1..30" in msg
    assert "ids outside 0..35: [40]" in msg


def test_old_config_with_async_keys_loads_with_one_deprecation_warning(tmp_path):
    old = tmp_path / "old.yaml"
    old.write_text(
        yaml.safe_dump(
            {
                "logging": {
                    "queue_size": 1000,
                    "worker_threads": 2,
                    "batch_size": 64,
                    "flush_interval": 5.0,
                    "enable_compression": True,
                    "log_frequency": 20,
                }
            }
        )
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cfg = jaxarc.load_config(config_file=old)
    deprecations = [
        w
        for w in caught
        if issubclass(w.category, DeprecationWarning) and "async" in str(w.message)
    ]
    assert len(deprecations) == 1
    for key in REMOVED_LOGGING_KEYS:
        assert key in str(deprecations[0].message)
    assert cfg.logging.log_frequency == 20
    assert not hasattr(cfg.logging, "queue_size")


def test_config_without_batched_keys_gets_defaults():
    cfg = JaxArcConfig.from_hydra({"logging": {"log_level": "DEBUG", "compression": False}})
    assert cfg.logging.log_level == "DEBUG"
    assert (
        cfg.logging.batched_logging_enabled,
        cfg.logging.num_samples,
        cfg.logging.sample_frequency,
    ) == (False, 3, 50)


def test_to_dict_round_trips():
    cfg = jaxarc.load_config(["wandb.tags=[x]"])
    assert JaxArcConfig.from_hydra(cfg.to_dict()) == cfg


def test_a_config_file_is_the_base_and_only_the_named_overrides_change_it(tmp_path):
    saved = tmp_path / "config.yaml"
    saved.write_text(
        yaml.safe_dump(
            {"train": {"num_envs": 128, "num_updates": 3}, "dataset": {"max_grid_size": 10}}
        )
    )
    cfg = jaxarc.load_config(["train.num_updates=2"], config_file=saved)
    assert (cfg.train.num_envs, cfg.train.num_updates, cfg.dataset.max_grid_size) == (128, 2, 10)
    # an override equal to the default still wins over the file
    assert jaxarc.load_config(["train.num_envs=64"], config_file=saved).train.num_envs == 64
    # a group override replaces the whole section
    assert jaxarc.load_config(["dataset=agi2"], config_file=saved).dataset.max_grid_size == 30

"""The ``jaxarc`` command: ``jaxarc train [overrides...]``, ``jaxarc eval RUN_DIR`` and
``jaxarc report RUN_DIR...``."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

logger = logging.getLogger("jaxarc.cli")


def _setup_cli_logging() -> None:
    # the CLI is an application: it may show jaxarc's own records on the console
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    lib = logging.getLogger("jaxarc")
    if not lib.handlers:
        lib.addHandler(handler)
    lib.propagate = False


def _message(err: BaseException) -> str:
    # a KeyError's str() is the repr of its argument; show the sentence itself
    return str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)


def _train(args: argparse.Namespace) -> int:
    from .config import ConfigValidationError, load_config

    overrides = list(args.overrides)
    try:
        config = load_config(overrides, config_file=_saved_config(args.resume))
    except ConfigValidationError as err:
        print(f"jaxarc train: {err}", file=sys.stderr)
        return 2
    if args.resume:  # set here, not as an override: any path is fine
        config = dataclasses.replace(
            config, train=dataclasses.replace(config.train, resume=str(args.resume))
        )
        shown = " ".join(overrides) or "none"
        print(f"resuming {args.resume} with its saved configuration; overrides: {shown}")
    if args.cfg:
        import yaml

        print(yaml.safe_dump(config.to_dict(), sort_keys=False), end="")
        return 0
    from .train import TrainingDiverged, train

    logging.getLogger("jaxarc").setLevel(config.logging.log_level)  # the application decides
    try:
        result = train(config)
    except (ValueError, KeyError, OSError, ImportError) as err:  # OSError: a full disk too
        if args.debug:
            raise
        print(f"jaxarc train: {_message(err)} (--debug shows the traceback)", file=sys.stderr)
        return 2
    except TrainingDiverged as err:
        print(f"jaxarc train: training diverged ({err}); stopped.", file=sys.stderr)
        return 3
    except KeyboardInterrupt:  # before training started, or a second signal: stop at once
        print(
            "jaxarc train: interrupted; stopped at once (the checkpoint on disk is kept).",
            file=sys.stderr,
        )
        return 130
    if result.run_dir is not None:
        _closing_lines(result, config)
    return 128 + int(result.interrupted) if result.interrupted else 0  # 130 SIGINT, 143 SIGTERM


def _saved_config(resume: str | None) -> Path | None:
    """The ``config.yaml`` of the run being resumed (``resume``: the run directory, its
    ``checkpoints`` directory or one ``checkpoints/<update>``)."""
    if not resume:
        return None
    for run_dir in (Path(resume), *Path(resume).parents[:2]):
        if (run_dir / "config.yaml").is_file():
            return run_dir / "config.yaml"
    return None


def _closing_lines(result: Any, config: Any) -> None:
    steady = result.steady_steps_per_second
    rate = f"{steady:,.0f} env steps/s after compilation" if steady else "too short to time"
    done = result.updates_done - result.first_update
    span = f"updates {result.first_update}–{result.updates_done - 1}" if done else "no update"
    print(
        f"\n{done} updates ({span}), {result.env_steps:,} env steps in "
        f"{result.seconds:.1f} s ({rate})"
    )
    print(f"run directory: {result.run_dir}")
    print(f"see it as pictures:  jaxarc report {result.run_dir}")
    print(f"continue training:   jaxarc train --resume {result.run_dir}")
    if config.wandb.enabled and config.wandb.mode == "offline":
        print(f"upload to wandb:     wandb sync {result.run_dir}/wandb/offline-run-*")


def _report(args: argparse.Namespace) -> int:
    from .report import build_report

    try:
        out = build_report(args.run_dirs, args.output, png=args.png)
    except (FileNotFoundError, ImportError) as err:
        print(f"jaxarc report: {err}", file=sys.stderr)
        return 2
    print(f"report written to {out}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from .train.evaluate import evaluate_run

    try:
        doc = evaluate_run(
            args.run_dir,
            args.dataset,
            args.attempts,
            args.seed,
            args.name,
            list(args.overrides),
            augment=args.augment,
        )
    except (ValueError, KeyError, OSError, ImportError) as err:
        if args.debug:
            raise
        print(f"jaxarc eval: {_message(err)} (--debug shows the traceback)", file=sys.stderr)
        return 2
    agg = doc["aggregate"]
    print(
        f"{doc['dataset']} test pairs, target hidden, checkpoint at update {doc['update']}: "
        f"{agg['tasks']:.0f} tasks, {agg['test_pairs']:.0f} test pairs\n"
        f"score (a pair solved by one of {doc['attempts']} sampled attempts) {agg['score']:.3f}, "
        f"tasks solved {agg['tasks_solved']:.1f}; greedy policy score {agg['greedy_score']:.3f}; "
        f"mean best similarity {agg['best_similarity_mean']:.3f}"
    )
    if "tta_score" in agg:
        print(
            f"with test-time augmentation ({doc['test_time_augmentations']} views, 2 voted "
            f"attempts per pair): score {agg['tta_score']:.3f}"
        )
    print(f"written to {Path(args.run_dir) / 'eval' / (doc['name'] + '.json')}")
    return 0


def _config_help() -> str:
    """The groups with their presets and every key of each section, for ``--help``."""
    import dataclasses
    import textwrap
    from importlib.resources import files

    from .config import JaxArcConfig

    config = JaxArcConfig()

    defaults = {
        line.split(":")[0].strip(" -"): line.split(":")[1].strip()
        for line in (files("jaxarc.conf") / "config.yaml").read_text().splitlines()
        if line.startswith("  - ") and ":" in line
    }
    lines = ["config groups (pick a preset: group=name; * = default):"]
    conf = files("jaxarc.conf")
    for group in sorted(defaults):
        names = sorted(f.name.removesuffix(".yaml") for f in (conf / group).iterdir())
        marked = [f"{n}*" if n == defaults[group] else n for n in names if not n.startswith("_")]
        lines.append(f"  {group:<14} {', '.join(marked)}")
    lines.append("\nkeys (override any: section.key=value):")
    for section in dataclasses.fields(config):
        keys = ", ".join(f.name for f in dataclasses.fields(getattr(config, section.name)))
        wrapped = textwrap.wrap(keys, 70)
        lines.append(f"  {section.name:<14} " + ("\n" + " " * 17).join(wrapped))
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="jaxarc", description="JAX-native ARC-AGI environments with batched experiment logging"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_train = sub.add_parser(
        "train",
        help="train PPO on ARC tasks (Hydra overrides as key=value)",
        description="Train PPO. Overrides use Hydra syntax, e.g. "
        "`jaxarc train train.num_envs=256 logging.log_frequency=5`.",
        epilog=_config_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p_train.add_argument(
        "overrides", nargs="*", help="Hydra overrides, e.g. dataset=agi1 train.num_updates=500"
    )
    p_train.add_argument(
        "--resume",
        help="a run directory (or one of its checkpoints/<update>) to continue from, with its "
        "saved config",
    )
    p_train.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    p_train.add_argument(
        "--cfg",
        choices=["job"],
        help="print the resolved configuration (YAML) and exit, as Hydra's --cfg job does",
    )
    p_train.set_defaults(fn=_train)
    p_report = sub.add_parser(
        "report", help="turn run directories into one self-contained HTML page"
    )
    p_report.add_argument("run_dirs", nargs="+", help="run directories written by jaxarc train")
    p_report.add_argument(
        "-o", "--output", default=None, help="output HTML file (default: <first run>/report.html)"
    )
    p_report.add_argument(
        "--png", action="store_true", help="also write static PNG plots next to the HTML"
    )
    p_report.set_defaults(fn=_report)
    p_eval = sub.add_parser(
        "eval",
        help="score a trained run on test pairs (target hidden), as ARC scores",
        description="Evaluate a run's checkpoint on the test pairs of its tasks or another "
        "task set, with the target hidden; writes <run>/eval/<name>.json.",
    )
    p_eval.add_argument("run_dir", help="a run directory written by jaxarc train")
    p_eval.add_argument(
        "overrides", nargs="*", help="config overrides, e.g. dataset.max_grid_size=10"
    )
    p_eval.add_argument(
        "--dataset",
        default=None,
        help="AGI1-eval, AGI2-eval, MiniARC, a task id or a folder (default: the run's tasks)",
    )
    p_eval.add_argument(
        "--attempts", type=int, default=2, help="sampled attempts per test pair (ARC: 2)"
    )
    p_eval.add_argument(
        "--augment",
        type=int,
        default=0,
        metavar="K",
        help="also score with test-time augmentation: each pair played under K views (the "
        "identity and K-1 random symmetries x colour permutations), answers mapped back and "
        "voted into 2 attempts (tta_score)",
    )
    p_eval.add_argument("--seed", type=int, default=0, help="the evaluation's PRNG seed")
    p_eval.add_argument("--name", default=None, help="result name (default: <dataset>-test)")
    p_eval.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    p_eval.set_defaults(fn=_eval)
    args = parser.parse_args(argv)
    _setup_cli_logging()
    code: int = args.fn(args)
    return code


if __name__ == "__main__":
    sys.exit(main())

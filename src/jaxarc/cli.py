"""The ``jaxarc`` command: ``jaxarc train [overrides...]`` and ``jaxarc report RUN_DIR...``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

logger = logging.getLogger("jaxarc.cli")


def _setup_cli_logging() -> None:
    # the CLI is an application: it may show jaxarc's own records on the console
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    lib = logging.getLogger("jaxarc")
    if not lib.handlers:
        lib.addHandler(handler)
    lib.propagate = False


def _train(args: argparse.Namespace) -> int:
    from .config import ConfigValidationError, load_config

    overrides = list(args.overrides)
    if args.resume:
        overrides.append(f"train.resume={args.resume}")
    try:
        config = load_config(overrides)
        from .train import TrainingDiverged, train
    except ConfigValidationError as err:
        print(f"jaxarc train: {err}", file=sys.stderr)
        return 2
    logging.getLogger("jaxarc").setLevel(config.logging.log_level)  # the application decides
    try:
        result = train(config)
    except (ValueError, KeyError, FileNotFoundError) as err:
        print(f"jaxarc train: {err}", file=sys.stderr)
        return 2
    except TrainingDiverged as err:
        print(f"jaxarc train: training diverged ({err}); stopped.", file=sys.stderr)
        return 3
    if result.run_dir is not None:
        sps = result.env_steps / max(result.seconds, 1e-9)
        print(
            f"\n{result.updates_done} updates, {result.env_steps:,} env steps in "
            f"{result.seconds:.1f} s ({sps:,.0f} steps/s incl. compile)"
        )
        print(f"run directory: {result.run_dir}")
        print(f"see it as pictures:  jaxarc report {result.run_dir}")
        print(f"continue training:   jaxarc train --resume {result.run_dir}")
    return 130 if result.interrupted else 0


def _report(args: argparse.Namespace) -> int:
    from .report import build_report

    try:
        out = build_report(args.run_dirs, args.output, png=args.png)
    except FileNotFoundError as err:
        print(f"jaxarc report: {err}", file=sys.stderr)
        return 2
    print(f"report written to {out}")
    return 0


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
    )
    p_train.add_argument(
        "overrides", nargs="*", help="Hydra overrides, e.g. dataset=agi1 train.num_updates=500"
    )
    p_train.add_argument(
        "--resume", help="a run directory (or its checkpoint.eqx) to continue from"
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
    args = parser.parse_args(argv)
    _setup_cli_logging()
    code: int = args.fn(args)
    return code


if __name__ == "__main__":
    sys.exit(main())

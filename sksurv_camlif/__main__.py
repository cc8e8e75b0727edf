"""Command line: ``python -m sksurv_camlif demo`` (also the ``sksurv-camlif`` script)."""

import argparse
import re
import sys

N_SPLITS_TOTAL = 15


def _n_splits(text):
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not 1 <= value <= N_SPLITS_TOTAL:
        raise argparse.ArgumentTypeError(
            f"must be an integer between 1 and {N_SPLITS_TOTAL} (15 = full protocol), got {text!r}"
        )
    return value


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _device(text):
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", text):
        raise argparse.ArgumentTypeError(f"expected auto, cpu, cuda or cuda:N, got {text!r}")
    return text


def build_parser():
    parser = argparse.ArgumentParser(
        prog="sksurv-camlif",
        description="CA-MLIF multimodal deep survival model for scikit-survival.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    demo = sub.add_parser(
        "demo",
        help="compare CAMLIFSurvival with Cox baselines on the bundled TCGA-GBMLGG data",
        description=(
            "Fit CAMLIFSurvival, a Coxnet model on all features and a Cox model on the clinical "
            "variables on the Train part of the first N train/test splits of the CA-MLIF "
            "authors (TCGA-GBMLGG, 616 Train / 153 Test) and print Harrell's C on the Test part."
        ),
    )
    demo.add_argument(
        "--splits", type=_n_splits, default=3, metavar="N",
        help="number of splits to run, 1 to 15 (default: 3, a few minutes on 2 CPU cores; "
             "15 = full protocol)",
    )
    demo.add_argument("--seed", type=int, default=0, help="random_state of the models (default: 0)")
    demo.add_argument(
        "--device", type=_device, default="auto",
        help="auto, cpu, cuda or cuda:N for CAMLIFSurvival (default: auto = CUDA when available)",
    )
    demo.add_argument(
        "--threads", type=_positive_int, default=1, metavar="N",
        help="torch threads of CAMLIFSurvival on the CPU (default: 1; the network is small "
             "and more threads slow it down on a busy machine)",
    )
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(_demo_parser=demo)
    return parser


def main(argv=None):
    """Run the command line; return the exit code (argparse errors raise SystemExit(2))."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import run_demo
        from .device import resolve_device

        try:
            resolve_device(args.device)
        except ValueError as exc:  # e.g. --device cuda on a machine without CUDA
            args._demo_parser.error(str(exc))
        try:
            run_demo(
                n_splits=args.splits, seed=args.seed, device=args.device, quiet=args.quiet,
                n_threads=args.threads,
            )
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        return 0
    parser.error(f"unknown command {args.command!r}")  # unreachable: argparse checks it


if __name__ == "__main__":
    sys.exit(main())

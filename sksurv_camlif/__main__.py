"""Command line (``python -m sksurv_camlif`` or the ``sksurv-camlif`` script): ``demo`` on
the bundled data; ``fit``, ``predict`` and ``cv`` on a CSV or Parquet table (see
:mod:`sksurv_camlif.cli`)."""

import argparse
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
    from .device import is_device_string  # torch is imported only when needed

    if not is_device_string(text):
        raise argparse.ArgumentTypeError(f"expected auto, cpu, cuda or cuda:N, got {text!r}")
    return text


def build_parser():
    parser = argparse.ArgumentParser(
        prog="sksurv-camlif",
        description="CA-MLIF multimodal deep survival model for scikit-survival.",
    )
    from ._version import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
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
    _add_table_commands(sub)
    return parser


def _outcome_args(p):
    p.add_argument("data", help="CSV (.csv, .csv.gz) or Parquet (.parquet, .pq) table")
    p.add_argument("--time", required=True, help="column of the follow-up time")
    p.add_argument("--event", required=True, help="column of the event indicator (1/True = event)")
    p.add_argument("--spec", required=True, help="TOML spec of the blocks (examples/cli_spec.toml)")


def _times(text):
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _add_table_commands(sub):
    fit = sub.add_parser("fit", help="fit CAMLIFSurvival on a table and save it",
                         description="Fit CAMLIFSurvival on a table; save the model as a model file "
                                     "(skops format), which `predict` reads without running code from it.")
    _outcome_args(fit)
    fit.add_argument("--out", required=True, help="where to save the fitted model, e.g. model.skops")
    fit.add_argument("--verbose", action="store_true", help="progress bar of the training")
    predict = sub.add_parser("predict", help="risks and survival of a table's patients",
                             description="Predict with a saved model; write a CSV, one row per patient.")
    predict.add_argument("model", help="a model file saved by `fit` (or CAMLIFSurvival.save)")
    predict.add_argument("data", help="CSV or Parquet table with the model's columns")
    predict.add_argument("--out", required=True, help="the CSV to write")
    predict.add_argument("--times", type=_times, nargs="+", default=[], metavar="T",
                         help="also write the survival probability at these times")
    predict.add_argument("--explain", action="store_true",
                         help="also write the per-patient contributions (CAMLIFSurvival.explain)")
    predict.add_argument("--id", default=None, help="a column to copy to the output (patient id)")
    predict.add_argument("--trust", action="append", default=[], metavar="TYPE",
                         help="a type the model file may hold beyond the trusted ones, e.g. your own "
                              "transformer class (mypackage.MyScaler); repeat for several")
    predict.add_argument("--trust-pickle", action="store_true",
                         help="also read MODEL if it is a pickle or joblib file. Unpickling runs any code "
                              "the file's author put in it: use this only for files you made or trust")
    predict.add_argument("--plot", default=None, metavar="DIR",
                         help="also write figures (PNG) to DIR, created if missing: survival_curves.png "
                              "(the predicted survival functions) and, with --explain, "
                              "contributions_<patient>.png of each of the first five patients; needs "
                              "matplotlib (the plot extra)")
    predict.add_argument("--plot-patients", type=_positive_int, default=None, metavar="N",
                         help="--plot draws only the first N patients (default: all)")
    cv = sub.add_parser("cv", help="cross-validate beside Coxnet and CoxPH",
                        description="Stratified K-fold CV: Harrell's C and IBS of CAMLIFSurvival, "
                                    "Coxnet (all spec columns) and CoxPH (clinical), same folds.")
    _outcome_args(cv)
    cv.add_argument("--splits", type=_positive_int, default=5, metavar="N", help="folds (default 5)")
    cv.add_argument("--seed", type=int, default=0, help="fold shuffling and model seeds (default 0)")
    cv.add_argument("--split-columns", nargs="+", default=None, metavar="COL",
                    help="use the train/test splits of these boolean columns (True = train) "
                         "instead of K folds; the columns are not features")
    cv.add_argument("--n-jobs", type=_positive_int, default=1, metavar="N",
                    help="folds run at once, in worker processes (default 1); the figures "
                         "do not depend on it")
    cv.add_argument("--verbose", action="store_true",
                    help="a line per fold with its C of every model, on stderr (with "
                         "--n-jobs 1 also the training progress)")
    cv.add_argument("--quiet", action="store_true", help="no progress bar")
    cv.add_argument("--plot", default=None, metavar="DIR",
                    help="also write cv_risk_groups.png to DIR, created if missing: Kaplan-Meier curves "
                         "of the test patients by CAMLIFSurvival's risk group, each cut at its fold's "
                         "training quantiles, with the log-rank p-value; needs matplotlib (the plot extra)")
    cv.add_argument("--risk-groups", type=int, choices=(2, 3), default=3, metavar="N",
                    help="--plot's risk groups: 2 (halves) or 3 (thirds, the default)")


def _run_table_command(args):
    from . import cli

    if args.command == "fit":
        est = cli.fit(args.data, args.spec, args.out, time=args.time, event=args.event,
                      verbose=int(args.verbose))
        print(f"fitted on {est.n_features_in_} columns; saved to {args.out}")
    elif args.command == "predict":
        result = cli.predict(args.model, args.data, args.out, times=args.times,
                             explain=args.explain, id_column=args.id, trust_pickle=args.trust_pickle,
                             trusted=args.trust, plot=args.plot, plot_patients=args.plot_patients)
        print(f"{len(result)} prediction(s) written to {args.out}")
        _print_figures(result)
    else:
        folds = cli.cv(args.data, args.spec, time=args.time, event=args.event,
                       n_splits=args.splits, seed=args.seed, progress=not args.quiet,
                       split_columns=args.split_columns, n_jobs=args.n_jobs,
                       verbose=int(args.verbose), plot=args.plot, n_groups=args.risk_groups)
        summary = folds.groupby("model", sort=False)[["c_index", "ibs"]].agg(["mean", "std"])
        if args.split_columns:
            print(f"{len(args.split_columns)} given split(s) (seed {args.seed}): mean +- std")
        else:
            print(f"{args.splits}-fold CV (stratified by event, seed {args.seed}): mean +- std")
        for name, row in summary.iterrows():
            print(f"  {name:<18} C {row[('c_index', 'mean')]:.4f} +- {row[('c_index', 'std')]:.4f}"
                  f"   IBS {row[('ibs', 'mean')]:.4f} +- {row[('ibs', 'std')]:.4f}")
        _print_figures(folds)


def _print_figures(result):
    for path in result.attrs.get("figures", []):
        print(f"figure written to {path}")


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
    from .cli import CLIError

    try:
        _run_table_command(args)
    except CLIError as exc:
        print(f"sksurv-camlif {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

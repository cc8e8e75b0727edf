"""The user guide's figures, from the bundled TCGA-GBMLGG data (split 1 of the authors).

    python docs/make_figures.py            # the committed figures (default estimator)
    python docs/make_figures.py --fast --out /tmp/figs   # a tiny network, for the docs test

Writes four PNG files to ``--out`` (default ``docs/_static``):

- ``guide_km_risk_groups.png``: Kaplan-Meier curves of the test patients split into thirds
  of predicted risk (thresholds from the training patients), with the log-rank p-value and
  the numbers at risk (``sksurv_camlif.plots.plot_risk_groups``);
- ``guide_survival_curves.png``: predicted survival functions of four test patients
  (``plot_survival_curves``);
- ``guide_contributions.png``: ``explain`` -- the linear offset by block and the network's
  share of the lowest- and the highest-risk test patient (``plot_contributions``), and the
  mean absolute share over the test part;
- ``guide_training_curve.png``: training loss and validation C-index of the first member.
"""

import argparse
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sksurv_camlif.datasets import iter_splits, load_tcga_gbmlgg  # noqa: E402
from sksurv_camlif.plots import plot_contributions, plot_risk_groups, plot_survival_curves  # noqa: E402
from sksurv_camlif.presets import default_gbmlgg_estimator  # noqa: E402

DOCS = Path(__file__).resolve().parent
FAST = dict(d_model=8, n_heads=2, n_encoder_layers=1, hidden_size=16, max_iter=2, n_members=2)
STYLE = dict(figsize=(6.4, 4.0), dpi=110)


def fit(fast):
    X, y, modalities, splits = load_tcga_gbmlgg()
    train, test = next(iter_splits(splits))
    est = default_gbmlgg_estimator(random_state=0, X=X, modalities=modalities, n_threads=1,
                                   **(FAST if fast else {}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        est.fit(X.iloc[train], y[train])
    return est, X.iloc[train], y[train], X.iloc[test], y[test]


def km_risk_groups(est, X_train, X_test, y_test, path):
    # thresholds from the training patients: the test patients' groups use none of their data
    cuts = np.quantile(est.predict(X_train), [1 / 3, 2 / 3])
    fig, ax = plt.subplots(figsize=(6.4, 4.6), dpi=110)
    plot_risk_groups(est, X_test, y_test, cut_points=cuts, at_risk=True, time_label="days", ax=ax)
    ax.set_title(f"Test part ({len(X_test)} patients), cut at the thirds of the training patients' "
                 f"predicted risk\n(log-risk {cuts[0]:.2f} and {cuts[1]:.2f})", fontsize=9)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)


def survival_curves(est, X_test, path):
    order = np.argsort(est.predict(X_test))
    picks = order[np.linspace(0, len(order) - 1, 4).round().astype(int)]
    fig, ax = plt.subplots(**STYLE)
    plot_survival_curves(est, X_test.iloc[picks], time_label="days", ax=ax)
    ax.set_title("Predicted survival of four test patients (lowest to highest risk)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def contributions(est, X_test, path):
    ex = est.explain(X_test)
    parts = [c for c in ex.columns if c.startswith("linear__")] + ["network"]
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 3.6), dpi=110, gridspec_kw={"width_ratios": [1, 1, 0.7]})
    # the lowest- and the highest-risk test patients
    for ax, patient in zip(axes, (ex["log_risk"].idxmin(), ex["log_risk"].idxmax())):
        plot_contributions(ex, patient, ax=ax)
    mean = ex[parts].abs().mean()
    axes[2].barh([p.replace("linear__", "") + (" (linear)" if p != "network" else "") for p in parts],
                 mean.to_numpy(), color="grey")
    axes[2].invert_yaxis()
    axes[2].set_xlabel("mean |share| over the test part")
    axes[2].set_title(f"All {len(ex)} test patients", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def training_curve(est, path):
    fig, ax = plt.subplots(**STYLE)
    epochs = np.arange(1, len(est.loss_curve_) + 1)
    ax.plot(epochs, est.loss_curve_, label="training loss", color="C0")
    ax.set(xlabel="epoch", ylabel="training loss (Cox" + (" + alignment)" if est.alignment_weight else ")"),
           title=f"First member (best epoch {est.best_epoch_})")
    if est.validation_scores_:
        ax2 = ax.twinx()
        ax2.plot(epochs, est.validation_scores_, color="C1", label="validation C (its inner fold)")
        ax2.set_ylabel("validation Harrell's C")
        ax2.legend(loc="lower right", fontsize=8)
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(DOCS / "_static"))
    parser.add_argument("--fast", action="store_true", help="a tiny network (for the docs test)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    est, X_train, y_train, X_test, y_test = fit(args.fast)
    km_risk_groups(est, X_train, X_test, y_test, out / "guide_km_risk_groups.png")
    survival_curves(est, X_test, out / "guide_survival_curves.png")
    contributions(est, X_test, out / "guide_contributions.png")
    training_curve(est, out / "guide_training_curve.png")
    return out


if __name__ == "__main__":
    main()

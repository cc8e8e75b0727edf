"""The user guide's figures, from the bundled TCGA-GBMLGG data (split 1 of the authors).

    python docs/make_figures.py            # the committed figures (default estimator)
    python docs/make_figures.py --fast --out /tmp/figs   # a tiny network, for the docs test

Writes four PNG files to ``--out`` (default ``docs/_static``):

- ``guide_km_risk_groups.png``: Kaplan-Meier curves of the test patients split into thirds
  of predicted risk (thresholds from the training patients), with the log-rank p-value;
- ``guide_survival_curves.png``: predicted survival functions of four test patients;
- ``guide_contributions.png``: ``explain`` -- the linear offset by block and the network's
  share for six test patients, and the mean absolute share over the test part;
- ``guide_training_curve.png``: training loss and validation C-index of the first member.
"""

import argparse
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sksurv.compare import compare_survival  # noqa: E402
from sksurv.nonparametric import kaplan_meier_estimator  # noqa: E402

from sksurv_camlif.datasets import iter_splits, load_tcga_gbmlgg  # noqa: E402
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
    cuts = np.quantile(est.predict(X_train), [1 / 3, 2 / 3])
    group = np.digitize(est.predict(X_test), cuts)
    _, p = compare_survival(y_test, group)
    fig, ax = plt.subplots(**STYLE)
    for g, label in enumerate(("low", "middle", "high")):
        mask = group == g
        if mask.sum() < 2:
            continue
        t, s = kaplan_meier_estimator(y_test["event"][mask], y_test["time"][mask])
        ax.step(t, s, where="post", label=f"{label} predicted risk (n = {mask.sum()})")
    ax.set(xlabel="days", ylabel="survival probability (Kaplan-Meier)", ylim=(0, 1.02),
           title=f"Test part, thirds of predicted risk; log-rank p = {p:.1e}")
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def survival_curves(est, X_test, path):
    order = np.argsort(est.predict(X_test))
    picks = order[np.linspace(0, len(order) - 1, 4).round().astype(int)]
    fig, ax = plt.subplots(**STYLE)
    for i in picks:
        fn = est.predict_survival_function(X_test.iloc[[i]])[0]
        ax.step(fn.x, fn.y, where="post", label=f"patient {X_test.index[i]}")
    ax.set(xlabel="days", ylabel="predicted survival probability", ylim=(0, 1.02),
           title="Predicted survival of four test patients (lowest to highest risk)")
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def contributions(est, X_test, path):
    ex = est.explain(X_test)
    parts = [c for c in ex.columns if c.startswith("linear__")] + ["network"]
    order = np.argsort(ex["log_risk"].to_numpy())
    rows = ex.iloc[order[np.linspace(0, len(order) - 1, 6).round().astype(int)]]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(9.6, 4.0), dpi=110,
                                  gridspec_kw={"width_ratios": [2, 1]})
    bottom_pos, bottom_neg = np.zeros(len(rows)), np.zeros(len(rows))
    labels = [str(i) for i in rows.index]
    for part in parts:
        v = rows[part].to_numpy()
        base = np.where(v >= 0, bottom_pos, bottom_neg)
        ax.bar(labels, v, bottom=base, label=part.replace("linear__", "linear: "))
        bottom_pos += np.where(v >= 0, v, 0)
        bottom_neg += np.where(v < 0, v, 0)
    ax.scatter(labels, rows["log_risk"], color="black", zorder=3, label="log-risk")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(ylabel="contribution to the log-risk", title="Six test patients")
    ax.tick_params(axis="x", rotation=45, labelsize=7)
    ax.legend(fontsize=7)
    mean = ex[parts].abs().mean()
    ax2.barh([p.replace("linear__", "linear: ") for p in parts], mean.to_numpy())
    ax2.set(xlabel="mean |contribution|", title="Test part")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def training_curve(est, path):
    fig, ax = plt.subplots(**STYLE)
    epochs = np.arange(1, len(est.loss_curve_) + 1)
    ax.plot(epochs, est.loss_curve_, label="training loss", color="C0")
    ax.set(xlabel="epoch", ylabel="training loss (Cox + alignment)",
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

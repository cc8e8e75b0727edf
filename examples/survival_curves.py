"""Predicted survival curves and Kaplan-Meier curves of predicted risk groups.

Fits CAMLIFSurvival on the Train part of split 1 of TCGA-GBMLGG, then, on the Test part:

- left panel: the predicted survival functions ``S(t | x)`` of the three lowest-risk and
  the three highest-risk test patients;
- right panel: Kaplan-Meier curves of the observed survival of the test patients grouped
  into tertiles of predicted risk (a calibration-in-the-large check of the ranking).

Writes ``survival_curves.png`` to the folder in ``SKSURV_CAMLIF_EXAMPLES_OUTPUT_DIR`` (default:
the current working directory). Needs matplotlib (``pip install matplotlib``); without it the
script says so and exits without error.

Run::

    python examples/survival_curves.py

``SKSURV_CAMLIF_EXAMPLES_FAST=1`` trains a tiny network for 3 epochs (used by the tests).
"""

import os
from pathlib import Path

import numpy as np

FAST = os.environ.get("SKSURV_CAMLIF_EXAMPLES_FAST", "") == "1"
# Tiny network and 3 epochs: seconds instead of a minute.
SMALL = dict(d_model=8, n_heads=2, n_encoder_layers=1, hidden_size=16, max_iter=3)
# The network is small: one torch thread is usually as fast as several, and much faster on a
# machine shared with other jobs (see the user guide, "GPU and threads").
N_THREADS = 1
FILENAME = "survival_curves.png"


def main():
    try:
        import matplotlib
    except ImportError:
        print("survival_curves.py: matplotlib is not installed, so there is nothing to plot; "
              "install it with `pip install matplotlib` (or the `docs` extra). Skipping.")
        return None
    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt
    from sksurv.nonparametric import kaplan_meier_estimator

    from sksurv_camlif.datasets import iter_splits, load_tcga_gbmlgg
    from sksurv_camlif.presets import default_gbmlgg_estimator

    out_dir = Path(os.environ.get("SKSURV_CAMLIF_EXAMPLES_OUTPUT_DIR") or Path.cwd())
    out_dir.mkdir(parents=True, exist_ok=True)

    X, y, modalities, splits = load_tcga_gbmlgg()
    train, test = next(iter_splits(splits))
    X_test, y_test = X.iloc[test], y[test]
    est = default_gbmlgg_estimator(
        random_state=0, X=X, modalities=modalities, n_threads=N_THREADS,
        **(SMALL if FAST else {}),
    )
    est.fit(X.iloc[train], y[train])

    risk = est.predict(X_test)
    order = np.argsort(risk)
    low, high = order[:3], order[-3:]
    years = 365.25

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)

    # Left: predicted survival functions, evaluated on the training event/censoring times.
    surv = est.predict_survival_function(X_test.iloc[np.r_[low, high]], return_array=True)
    t = est.unique_times_ / years
    for k, row in enumerate(surv):
        is_low = k < len(low)
        ax1.step(t, row, where="post", color="tab:blue" if is_low else "tab:red",
                 label=("lowest predicted risk" if is_low else "highest predicted risk")
                 if k in (0, len(low)) else None)
    ax1.set_xlabel("years since diagnosis")
    ax1.set_ylabel("survival probability")
    ax1.set_title("Predicted S(t | x) of 6 test patients")
    ax1.legend(loc="lower left")

    # Right: Kaplan-Meier curves of the observed outcome by tertile of predicted risk.
    cuts = np.quantile(risk, [1 / 3, 2 / 3])
    group = np.digitize(risk, cuts)  # 0 low, 1 middle, 2 high
    names = ("low", "middle", "high")
    colors = ("tab:blue", "tab:gray", "tab:red")
    for g in range(3):
        mask = group == g
        time, prob = kaplan_meier_estimator(y_test["event"][mask], y_test["time"][mask])
        ax2.step(time / years, prob, where="post", color=colors[g],
                 label=f"{names[g]} risk (n={mask.sum()}, {y_test['event'][mask].sum()} deaths)")
    ax2.set_xlabel("years since diagnosis")
    ax2.set_title("Kaplan-Meier by tertile of predicted risk")
    ax2.legend(loc="upper right")
    ax2.set_ylim(0, 1.02)

    fig.suptitle(f"CAMLIFSurvival on TCGA-GBMLGG split 1 (test C-index "
                 f"{est.score(X_test, y_test):.3f})")
    fig.tight_layout()
    path = out_dir / FILENAME
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()

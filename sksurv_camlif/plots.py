"""Figures for a fitted :class:`~sksurv_camlif.CAMLIFSurvival` or its outputs.

- :func:`plot_risk_groups`: Kaplan-Meier curves of the patients split by predicted risk,
  with the log-rank p-value (:func:`plot_km_groups` draws given groups, :func:`risk_groups`
  makes them);
- :func:`plot_contributions`: one patient's log-risk split by source (``explain``);
- :func:`plot_survival_curves`: predicted survival functions of given patients
  (:func:`plot_survival_functions` draws step functions already computed).

Each function draws on ``ax`` when given, else on a new figure (``matplotlib.pyplot``), and
returns the Axes. matplotlib is imported only when a function is called: install it with
the ``plot`` extra, ``pip install "sksurv-camlif[plot]"``.
"""

import numpy as np

__all__ = ["plot_risk_groups", "plot_km_groups", "risk_groups", "plot_contributions",
           "plot_survival_curves", "plot_survival_functions", "format_p_value", "require_matplotlib"]

#: What a missing matplotlib says; the command line repeats it.
MISSING_MATPLOTLIB = ('sksurv_camlif.plots needs matplotlib, which is not installed: '
                      'pip install "sksurv-camlif[plot]" (the plot extra) or pip install matplotlib')

#: Names of the groups for the usual numbers of groups (lowest risk first).
_GROUP_NAMES = {2: ("low", "high"), 3: ("low", "intermediate", "high")}

#: Beyond this many curves a legend hides the plot instead of explaining it.
MAX_LEGEND = 10


def require_matplotlib():
    """Import matplotlib, or raise an ImportError that names the ``plot`` extra.

    Returns
    -------
    module
        ``matplotlib``.
    """
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError(MISSING_MATPLOTLIB) from exc
    return matplotlib


def _axes(ax, figsize):
    """``ax``, or the Axes of a new pyplot figure (pyplot only then: an Axes the caller
    made, e.g. on a bare ``matplotlib.figure.Figure``, needs no backend)."""
    require_matplotlib()
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=figsize)[1]


def format_p_value(p):
    """The log-rank p-value as the figures write it: two significant digits, scientific
    notation below 0.001 (``"0.042"``, ``"3.1e-07"``); ``"n/a"`` when it is not a number."""
    if p is None or not np.isfinite(p):
        return "n/a"
    return f"{p:.2g}" if p >= 1e-3 else f"{p:.1e}"


def _num(value, sign=""):
    """Two decimals, without the "-0.00" of a value that rounds to zero."""
    text = f"{float(value):{sign}.2f}"
    return text.replace("-0.00", "+0.00" if sign else "0.00")


# -- Kaplan-Meier curves of risk groups ---------------------------------------------------------
def risk_groups(risk, n_groups=3, cut_points=None):
    """Split patients into groups of predicted risk.

    Parameters
    ----------
    risk : array-like of shape (n_samples,)
        Predicted log-risk (``predict(X)``); higher means higher risk.
    n_groups : int, default=3
        Number of groups; ignored when ``cut_points`` is given.
    cut_points : array-like of float, default=None
        Increasing risk values between the groups; a patient whose risk equals a cut point
        goes to the higher group. None: the ``1/n_groups, ..., (n_groups-1)/n_groups``
        quantiles of ``risk`` itself (equal-sized groups up to ties).

    Returns
    -------
    groups : ndarray of int, shape (n_samples,)
        0 for the lowest-risk group, up to ``len(cut_points)``.
    cut_points : ndarray of float
        The cut points used.
    """
    risk = np.asarray(risk, dtype=np.float64).ravel()
    if cut_points is None:
        if int(n_groups) < 2:
            raise ValueError(f"n_groups must be at least 2, got {n_groups!r}")
        cut_points = np.quantile(risk, np.arange(1, int(n_groups)) / int(n_groups))
    cut_points = np.asarray(cut_points, dtype=np.float64).ravel()
    if cut_points.size == 0 or np.any(np.diff(cut_points) < 0):
        raise ValueError(f"cut_points must be a non-empty increasing sequence, got {cut_points!r}")
    return np.digitize(risk, cut_points), cut_points


def _group_labels(n_groups, cut_points):
    names = _GROUP_NAMES.get(n_groups, [f"group {g + 1}" for g in range(n_groups)])
    labels = []
    for g, name in enumerate(names):
        if g == 0:
            bounds = f"risk < {cut_points[0]:.2f}"
        elif g == n_groups - 1:
            bounds = f"risk >= {cut_points[-1]:.2f}"
        else:
            bounds = f"{cut_points[g - 1]:.2f} to {cut_points[g]:.2f}"
        labels.append(f"{name} ({bounds})")
    return labels


def plot_km_groups(y, groups, labels=None, *, at_risk=False, time_label="time", title=None, ax=None):
    """Kaplan-Meier curves of given groups of patients, with the log-rank test.

    Each group's curve is :func:`sksurv.nonparametric.kaplan_meier_estimator` of its
    patients; the legend's title gives the log-rank p-value of
    :func:`sksurv.compare.compare_survival` over the groups with patients (``n/a`` with
    fewer than two).

    Parameters
    ----------
    y : structured array, shape (n_samples,)
        Event indicator first, time second (:meth:`sksurv.util.Surv.from_arrays`).
    groups : array-like of int, shape (n_samples,)
        Each patient's group, 0 to ``len(labels) - 1``.
    labels : list of str, default=None
        One name per group (the legend adds ``n = ...``). None: ``group 1``, ``group 2``...
    at_risk : bool, default=False
        Write the number of patients still at risk of each group under the x-axis ticks.
    time_label : str, default="time"
        The x-axis label (the unit of ``y``'s times, e.g. "days").
    title : str, default=None
    ax : matplotlib Axes, default=None
        Where to draw; None: a new figure.

    Returns
    -------
    matplotlib Axes
    """
    from sksurv.compare import compare_survival
    from sksurv.nonparametric import kaplan_meier_estimator

    ax = _axes(ax, (6.4, 4.4 if at_risk else 4.0))
    groups = np.asarray(groups).ravel()
    event, time = (y[name] for name in y.dtype.names[:2])
    event = np.asarray(event, dtype=bool)
    n_groups = len(labels) if labels is not None else int(groups.max()) + 1
    labels = labels if labels is not None else [f"group {g + 1}" for g in range(n_groups)]
    present = [g for g in range(n_groups) if (groups == g).any()]
    # the log-rank test needs two non-empty groups; a tie-heavy risk may leave one
    p = compare_survival(y, groups)[1] if len(present) >= 2 else np.nan
    for g in range(n_groups):
        mask = groups == g
        if not mask.any():
            continue  # an empty group has no curve; its colour stays its own
        t, s = kaplan_meier_estimator(event[mask], time[mask])
        # start at (0, 1) so that every curve is drawn from the start of follow-up
        ax.step(np.r_[0.0, t], np.r_[1.0, s], where="post", color=f"C{g}",
                label=f"{labels[g]}, n = {int(mask.sum())}")
    ax.set(xlabel=time_label, ylabel="survival probability (Kaplan-Meier)", ylim=(0, 1.02))
    ax.set_xlim(left=0)
    if title is not None:
        ax.set_title(title, fontsize=9)
    ax.legend(title=f"log-rank p = {format_p_value(p)}", loc="best", fontsize=8, title_fontsize=8)
    if at_risk:
        _at_risk_table(ax, time, groups, [label.split(" (")[0] for label in labels])
    return ax


def _at_risk_table(ax, time, groups, names):
    """Numbers at risk (time >= tick) per group, in rows under the x-axis ticks."""
    from matplotlib.transforms import blended_transform_factory

    below = blended_transform_factory(ax.transData, ax.transAxes)  # x in time, y in the Axes
    lo, hi = ax.get_xlim()
    ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
    # the row names end left of the first column of numbers (the tick at time 0)
    ax.text(-0.05, -0.2, "at risk", transform=ax.transAxes, ha="right", va="top", fontsize=7,
            fontweight="bold")
    rows = [g for g in range(len(names)) if (groups == g).any()]
    for row, g in enumerate(rows, start=1):
        y = -0.2 - 0.065 * row
        ax.text(-0.05, y, names[g], transform=ax.transAxes, ha="right", va="top", fontsize=7, color=f"C{g}")
        for t in ticks:
            ax.text(t, y, str(int((time[groups == g] >= t).sum())), transform=below, ha="center", va="top",
                    fontsize=7, color=f"C{g}", clip_on=False)


def plot_risk_groups(estimator, X, y, n_groups=3, *, cut_points=None, at_risk=False, time_label="time",
                     ax=None):
    """Kaplan-Meier curves of the patients split by predicted risk, with the log-rank test.

    The patients of ``X`` are split at quantiles of ``estimator.predict(X)`` (or at given
    ``cut_points``, e.g. quantiles of the training patients' risk, so that no information of
    these patients enters the split); the title says which. A model that ranks patients
    well gives curves that separate, highest risk lowest.

    Parameters
    ----------
    estimator : fitted CAMLIFSurvival (any estimator with ``predict``)
    X : DataFrame or array-like, shape (n_samples, n_features)
    y : structured array, shape (n_samples,)
        The observed outcome of ``X``'s patients.
    n_groups : int, default=3
        2 (halves: low, high) or 3 (thirds: low, intermediate, high); any larger number
        gives numbered groups. Ignored when ``cut_points`` is given.
    cut_points : array-like of float, default=None
        Risk values at which to cut (increasing), e.g.
        ``np.quantile(est.predict(X_train), [1/3, 2/3])``. None: quantiles of
        ``predict(X)``.
    at_risk : bool, default=False
        Numbers at risk under the x-axis.
    time_label : str, default="time"
        The x-axis label, e.g. "days".
    ax : matplotlib Axes, default=None

    Returns
    -------
    matplotlib Axes
        The title gives the cut points, the legend's title the log-rank p-value.
    """
    require_matplotlib()  # before the prediction, which may take a while
    given = cut_points is not None
    groups, cuts = risk_groups(estimator.predict(X), n_groups, cut_points)
    n = len(cuts) + 1
    fractions = {2: "halves", 3: "thirds", 4: "quarters"}.get(n, f"{n} quantile groups")
    how = "given cut points" if given else f"{fractions} of these patients' predicted risk"
    return plot_km_groups(y, groups, _group_labels(n, cuts), at_risk=at_risk, time_label=time_label,
                          title=f"Kaplan-Meier by predicted risk: {how}\n(cut at log-risk "
                                f"{', '.join(f'{c:.2f}' for c in cuts)})", ax=ax)


# -- one patient's contributions --------------------------------------------------------------
def _share_columns(explanation):
    """The centred shares that add up to ``log_risk - baseline``: the offset by block
    (modalities, then clinical), then the network."""
    blocks = [c for c in explanation.columns if c.startswith("linear__")]
    return blocks + ["network"]


def plot_contributions(explanation, patient, *, ax=None):
    """One patient's log-risk split by source, as horizontal bars.

    The bars are the centred shares of :meth:`CAMLIFSurvival.explain
    <sksurv_camlif.CAMLIFSurvival.explain>`: the linear offset's share of each modality
    block (``linear__<block>``) and of the clinical block, then the networks' share
    (``network``). Each says how much higher (right, red) or lower (left, blue) than the
    average training patient that source puts this patient's log-risk; together they add
    up to ``log_risk - baseline``, which the title gives.

    Parameters
    ----------
    explanation : pandas.DataFrame
        The table of ``explain(X)`` (one row per patient).
    patient : label
        The patient's row label in ``explanation.index`` (``explanation.index[i]`` for the
        i-th row).
    ax : matplotlib Axes, default=None

    Returns
    -------
    matplotlib Axes
        One bar per share, top to bottom in the order above.
    """
    ax = _axes(ax, (6.4, 3.2))
    if patient not in explanation.index:
        raise KeyError(f"patient {patient!r} is not in the explanation's index")
    row = explanation.loc[patient]
    columns = _share_columns(explanation)
    values = np.array([float(row[c]) for c in columns])
    labels = []
    for c in columns:
        if c == "network":
            labels.append("network")
            continue
        block = c.split("__", 1)[1]
        absent = f"present__{block}" in row.index and not bool(row[f"present__{block}"])
        labels.append(f"{block} (linear{', absent' if absent else ''})")
    # red raises the risk, blue lowers it: the reading a clinician expects
    colors = np.where(values >= 0, "#c0392b", "#2e6da4")
    positions = np.arange(len(values))
    ax.barh(positions, values, color=colors, height=0.6)
    ax.set_yticks(positions, labels)
    ax.invert_yaxis()  # the first source on top
    ax.axvline(0, color="grey", lw=0.8)
    span = max(float(np.abs(values).max()), 1e-12)
    ax.set_xlim(-1.35 * span, 1.35 * span)  # room for the value labels on either side
    for pos, value in zip(positions, values):
        ax.text(value + (0.03 if value >= 0 else -0.03) * span, pos, _num(value, "+"),
                ha="left" if value >= 0 else "right", va="center", fontsize=8)
    ax.set_xlabel("share of the log-risk (vs. the average training patient)")
    ax.set_title(f"patient {patient}\nlog-risk {_num(row['log_risk'])} (training mean "
                 f"{_num(row['baseline'])}; difference {_num(row['log_risk'] - row['baseline'], '+')})",
                 fontsize=9)
    return ax


# -- predicted survival functions -------------------------------------------------------------
def plot_survival_functions(functions, labels=None, *, time_label="time", title=None, ax=None):
    """Step functions of survival, one line each.

    Parameters
    ----------
    functions : sequence of :class:`sksurv.functions.StepFunction`
        E.g. ``est.predict_survival_function(X)``.
    labels : sequence of str, default=None
        One per function, for the legend (shown for at most ten curves).
    time_label : str, default="time"
    title : str, default=None
    ax : matplotlib Axes, default=None

    Returns
    -------
    matplotlib Axes
        One line per function, in order.
    """
    ax = _axes(ax, (6.4, 4.0))
    functions = list(functions)
    if labels is None:
        labels = [f"patient {i + 1}" for i in range(len(functions))]
    for fn, label in zip(functions, labels, strict=True):
        # S(0) = 1 before the first training time: start every curve there
        ax.step(np.r_[0.0, fn.x], np.r_[1.0, fn(fn.x)], where="post", label=str(label))
    ax.set(xlabel=time_label, ylabel="predicted survival probability", ylim=(0, 1.02))
    ax.set_xlim(left=0)
    if title is not None:
        ax.set_title(title, fontsize=9)
    if 0 < len(functions) <= MAX_LEGEND:
        ax.legend(loc="best", fontsize=8)
    return ax


def plot_survival_curves(estimator, X, labels=None, *, time_label="time", ax=None):
    """Predicted survival functions ``S(t | x)`` of the patients of ``X``, one step line each.

    Parameters
    ----------
    estimator : fitted CAMLIFSurvival (any estimator with ``predict_survival_function``)
    X : DataFrame or array-like, shape (n_patients, n_features)
        The patients to draw (select rows first, e.g. ``X.iloc[:5]``).
    labels : sequence of str, default=None
        Legend entries; None: ``patient <index label>`` (DataFrame) or ``patient <row>``.
        A legend is drawn for at most ten patients.
    time_label : str, default="time"
        The x-axis label (the time unit of the training data, e.g. "days").
    ax : matplotlib Axes, default=None

    Returns
    -------
    matplotlib Axes
        One line per patient, from time 0 (survival 1) to the last training time.
    """
    require_matplotlib()
    if labels is None:
        index = X.index if hasattr(X, "index") else range(1, len(X) + 1)
        labels = [f"patient {i}" for i in index]
    functions = estimator.predict_survival_function(X)
    return plot_survival_functions(functions, labels, time_label=time_label,
                                   title="Predicted survival", ax=ax)

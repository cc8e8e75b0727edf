"""sksurv_camlif.plots: each figure draws what it says, from a tiny fitted model."""

import re
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sksurv.compare import compare_survival  # noqa: E402
from sksurv.nonparametric import kaplan_meier_estimator  # noqa: E402

from conftest import make_small_data, small_est, with_absent_blocks  # noqa: E402
from sksurv_camlif import plots  # noqa: E402


@pytest.fixture(scope="module")
def data():
    return make_small_data(n=60)


@pytest.fixture(scope="module")
def est(data):
    # w fixed at 0.5: both the linear shares and the network's share are non-zero
    X, y = data
    return small_est(residual_weights=[0.5], n_members=2, max_iter=2).fit(X, y)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _legend_p(ax):
    title = ax.get_legend().get_title().get_text()
    match = re.fullmatch(r"log-rank p = (\S+)", title)
    assert match, title
    return float(match.group(1))


# -- Kaplan-Meier curves of risk groups -------------------------------------------------------
@pytest.mark.parametrize("n_groups", [2, 3])
def test_risk_groups_one_km_curve_per_group_and_the_log_rank_p(est, data, n_groups):
    X, y = data
    risk = est.predict(X)
    cuts = np.quantile(risk, np.arange(1, n_groups) / n_groups)
    groups = np.digitize(risk, cuts)
    ax = plots.plot_risk_groups(est, X, y, n_groups=n_groups)

    lines = ax.get_lines()
    assert len(lines) == n_groups
    for g, line in enumerate(lines):
        t, s = kaplan_meier_estimator(y["event"][groups == g], y["time"][groups == g])
        assert_allclose(line.get_xdata()[1:], t)
        assert_allclose(line.get_ydata()[1:], s)
        assert (line.get_xdata()[0], line.get_ydata()[0]) == (0, 1)
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert [int(re.search(r"n = (\d+)$", label).group(1)) for label in labels] == list(np.bincount(groups))
    assert labels[0].startswith("low") and labels[-1].startswith("high")
    # the p-value written is compare_survival's, to its two significant digits
    assert_allclose(_legend_p(ax), compare_survival(y, groups)[1], rtol=0.05)
    # the title says where the patients were cut
    assert f"{cuts[0]:.2f}" in ax.get_title() and "predicted risk" in ax.get_title()


def test_risk_groups_at_given_cut_points(est, data):
    X, y = data
    risk = est.predict(X)
    cuts = [np.quantile(risk, 0.2)]  # a low cut: groups of 12 and 48
    ax = plots.plot_risk_groups(est, X, y, cut_points=cuts)
    groups = (risk >= cuts[0]).astype(int)
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == [f"low (risk < {cuts[0]:.2f}), n = {(groups == 0).sum()}",
                      f"high (risk >= {cuts[0]:.2f}), n = {(groups == 1).sum()}"]
    assert "given cut points" in ax.get_title()
    assert_allclose(_legend_p(ax), compare_survival(y, groups)[1], rtol=0.05)


def test_numbers_at_risk_under_the_axis(est, data):
    X, y = data
    ax = plots.plot_risk_groups(est, X, y, n_groups=2, at_risk=True)
    groups = np.digitize(est.predict(X), [np.median(est.predict(X))])
    texts = [t for t in ax.texts if t.get_position()[1] < 0]
    assert any(t.get_text() == "at risk" for t in texts)
    for g in (0, 1):
        row = [t for t in texts if t.get_color() == f"C{g}" and t.get_text().isdigit()]
        assert row, g
        for text in row:
            when = text.get_position()[0]
            assert int(text.get_text()) == (y["time"][groups == g] >= when).sum()
        # at time 0 everybody is at risk
        assert int(next(t.get_text() for t in row if t.get_position()[0] == 0)) == (groups == g).sum()


def test_at_risk_counts_a_patient_whose_time_is_the_tick():
    from sksurv.util import Surv

    # times on whole numbers: the ticks (0, 1, 2, ...) fall on them; at risk = time >= tick
    y = Surv.from_arrays([True, True, False, True, True, False], [2.0, 4.0, 4.0, 6.0, 8.0, 8.0])
    ax = plots.plot_km_groups(y, np.array([0, 0, 0, 1, 1, 1]), ["low", "high"], at_risk=True)
    counts = {(t.get_color(), t.get_position()[0]): int(t.get_text()) for t in ax.texts if t.get_text().isdigit()}
    assert counts[("C0", 4.0)] == 2 and counts[("C0", 2.0)] == 3 and counts[("C1", 8.0)] == 2
    assert counts[("C1", 6.0)] == 3 and counts[("C0", 6.0)] == 0


def test_one_group_left_gives_no_test():
    from sksurv.util import Surv

    y = Surv.from_arrays([True, False, True, True], [1.0, 2.0, 3.0, 4.0])
    ax = plots.plot_km_groups(y, np.zeros(4, int), ["low", "high"])
    assert len(ax.get_lines()) == 1
    assert ax.get_legend().get_title().get_text() == "log-rank p = n/a"


def test_risk_groups_ties_and_bad_cut_points():
    groups, cuts = plots.risk_groups([0.0, 1.0, 1.0, 2.0], cut_points=[1.0])
    assert_array_equal(groups, [0, 1, 1, 1])  # a risk on a cut point goes to the higher group
    groups, cuts = plots.risk_groups(np.arange(9.0), 3)
    assert_array_equal(np.bincount(groups), [3, 3, 3])
    with pytest.raises(ValueError, match="increasing"):
        plots.risk_groups([0.0, 1.0], cut_points=[1.0, 0.5])
    with pytest.raises(ValueError, match="at least 2"):
        plots.risk_groups([0.0, 1.0], 1)


@pytest.mark.parametrize("p, text", [(0.04213, "0.042"), (0.5, "0.5"), (3.14e-7, "3.1e-07"),
                                     (np.nan, "n/a")])
def test_format_p_value(p, text):
    assert plots.format_p_value(p) == text


# -- contributions ----------------------------------------------------------------------------
def test_contribution_bars_are_the_explanations_shares(est, data):
    X, _ = data
    explanation = est.explain(X.iloc[:6])
    patient = explanation.index[4]
    ax = plots.plot_contributions(explanation, patient)
    columns = ["linear__m1", "linear__m2", "network"]
    row = explanation.loc[patient]
    widths = [bar.get_width() for bar in ax.patches]
    assert_allclose(widths, row[columns].to_numpy(dtype=float))
    assert np.abs(widths).min() > 0  # the fixture's w = 0.5: every share is drawn
    assert_allclose(sum(widths), row["log_risk"] - row["baseline"], atol=1e-9)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["m1 (linear)", "m2 (linear)", "network"]
    assert f"log-risk {row['log_risk']:.2f}" in ax.get_title() and f"patient {patient}" in ax.get_title()
    # red raises the risk, blue lowers it
    for bar, width in zip(ax.patches, widths):
        red = bar.get_facecolor()[0] > bar.get_facecolor()[2]
        assert red == (width >= 0)


def test_contributions_name_an_absent_modality_and_an_unknown_patient(est, data):
    X, _ = data
    explanation = est.explain(with_absent_blocks(X).iloc[:3])  # patient 1 lacks m1, 2 lacks m2
    ax = plots.plot_contributions(explanation, 1)
    assert [t.get_text() for t in ax.get_yticklabels()][:2] == ["m1 (linear, absent)", "m2 (linear)"]
    with pytest.raises(KeyError, match="patient 99"):
        plots.plot_contributions(explanation, 99)


# -- survival curves --------------------------------------------------------------------------
def test_survival_curves_one_line_per_patient(est, data):
    X, _ = data
    ax = plots.plot_survival_curves(est, X.iloc[3:7], time_label="days")
    functions = est.predict_survival_function(X.iloc[3:7])
    lines = ax.get_lines()
    assert len(lines) == 4
    for line, fn in zip(lines, functions):
        x, s = line.get_xdata(), line.get_ydata()
        assert ((s >= 0) & (s <= 1)).all() and (np.diff(s) <= 0).all()
        assert_allclose(x[1:], fn.x)
        assert_allclose(s[1:], fn(fn.x))
        assert s[0] == 1 and x[0] == 0
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [f"patient {i}" for i in range(3, 7)]
    assert ax.get_xlabel() == "days"


def test_survival_curves_on_a_given_axes_and_no_legend_for_many(est, data):
    X, _ = data
    fig, (left, right) = plt.subplots(1, 2)
    out = plots.plot_survival_curves(est, X.iloc[:plots.MAX_LEGEND + 1], ax=right)
    assert out is right and len(right.get_lines()) == plots.MAX_LEGEND + 1
    assert right.get_legend() is None and not left.get_lines()


def test_every_function_draws_on_the_given_axes(est, data):
    X, y = data
    fig, axes = plt.subplots(1, 3)
    assert plots.plot_risk_groups(est, X, y, ax=axes[0]) is axes[0]
    assert plots.plot_contributions(est.explain(X.iloc[:1]), 0, ax=axes[1]) is axes[1]
    assert plots.plot_survival_curves(est, X.iloc[:2], ax=axes[2]) is axes[2]
    assert len(plt.get_fignums()) == 1


# -- without matplotlib -----------------------------------------------------------------------
def test_missing_matplotlib_names_the_plot_extra(est, data, monkeypatch):
    X, y = data
    explanation = est.explain(X.iloc[:1])
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)  # `import matplotlib...` raises ImportError
    calls = [lambda: plots.plot_risk_groups(est, X, y), lambda: plots.plot_contributions(explanation, 0),
             lambda: plots.plot_survival_curves(est, X.iloc[:2]),
             lambda: plots.plot_km_groups(y, np.zeros(len(y), int))]
    for call in calls:
        with pytest.raises(ImportError, match=re.escape('pip install "sksurv-camlif[plot]"')):
            call()

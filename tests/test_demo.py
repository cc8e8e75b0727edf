"""Tests of the demo command line (``python -m sksurv_camlif demo``)."""

import re

import pytest

from sksurv_camlif.__main__ import main
from sksurv_camlif.presets import MODEL_NAMES


def test_demo_one_split(capsys):
    # One full default CAMLIFSurvival fit and the two baselines: a few seconds with one
    # torch thread (the demo's default).
    code = main(["demo", "--splits", "1", "--quiet"])
    out, err = capsys.readouterr()
    assert code == 0
    assert "splits:" not in err  # --quiet hides the progress bar
    for name in MODEL_NAMES:
        assert name in out
    # the row of split 1: three C-indices, then CAMLIF's fit time
    row = next(line for line in out.splitlines() if re.match(r"\s*1\s+0\.\d{4}", line))
    values = [float(v) for v in row.split()[1:]]
    assert len(values) == 4
    for c in values[:3]:
        assert 0.5 <= c <= 1.0
    assert values[3] > 0
    assert "Best model" in out
    assert "Device:" in out and "torch threads:" in out
    assert "Reference figures, measured on all 15 splits" in out


@pytest.mark.parametrize("splits", ["0", "16", "x"])
def test_demo_rejects_bad_splits(splits, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--splits", splits])
    assert exc.value.code == 2
    assert "between 1 and 15" in capsys.readouterr().err


def test_no_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2


def test_run_demo_checks_n_splits():
    from sksurv_camlif.demo import run_demo

    with pytest.raises(ValueError, match="between 1 and 15"):
        run_demo(n_splits=0)


def test_shared_constructors():
    from sksurv_camlif import CAMLIFSurvival
    from sksurv_camlif.presets import COXNET_NAME, COXPH_NAME, baseline_models, default_gbmlgg_estimator

    est = default_gbmlgg_estimator(random_state=3, max_iter=5)
    assert isinstance(est, CAMLIFSurvival)
    assert est.random_state == 3 and est.max_iter == 5
    assert [name for name, _, _ in est.modalities] == ["genomic", "cnv"]
    assert set(baseline_models()) == {COXNET_NAME, COXPH_NAME}

"""The fit / predict / cv commands on a CSV table and a TOML spec."""

import re
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from conftest import TINY_NET
from sksurv_camlif.__main__ import main
from sksurv_camlif.cli import build_estimator, read_spec

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DATA = EXAMPLES / "cli_gbmlgg_200.csv"
FAST = dict(TINY_NET, max_iter=2, n_members=2)


@pytest.fixture
def spec(tmp_path):
    """The example spec with a tiny network (the [estimator] table rewritten)."""
    text = (EXAMPLES / "cli_spec.toml").read_text()
    table = "\n".join(f"{k} = {v!r}".replace("'", '"') for k, v in FAST.items())
    text = re.sub(r"\[estimator\][^\[]*", f"[estimator]\n{table}\n\n", text, count=1)
    path = tmp_path / "spec.toml"
    path.write_text(text)
    return path


def _fit_args(spec, out):
    return ["fit", str(DATA), "--time", "days", "--event", "death", "--spec", str(spec), "--out", str(out)]


def test_fit_then_predict_matches_the_python_api(spec, tmp_path, capsys):
    model, pred = tmp_path / "model.joblib", tmp_path / "pred.csv"
    assert main(_fit_args(spec, model)) == 0
    assert main(["predict", str(model), str(DATA), "--out", str(pred), "--times", "365", "730",
                 "--explain", "--id", "patient"]) == 0
    out = pd.read_csv(pred)
    data = pd.read_csv(DATA)
    X = data.drop(columns=["days", "death"])
    from sksurv.util import Surv

    y = Surv.from_arrays(data["death"].astype(bool), data["days"].astype(float))
    est = build_estimator(read_spec(spec), list(X.columns)).fit(X, y)
    assert_allclose(out["risk"], est.predict(X), rtol=1e-6, atol=1e-7)
    assert list(out["patient"]) == list(data["patient"])
    s365, s730 = out["survival_at_365"], out["survival_at_730"]
    assert ((s365 >= s730) & (s730 >= 0) & (s365 <= 1)).all()
    assert {"linear", "network", "present__genomic", "linear__cnv"} <= set(out.columns)
    assert joblib.load(model).modalities_ == ["genomic", "cnv"]


def test_cv_prints_three_models(spec, capsys):
    assert main(["cv", str(DATA), "--time", "days", "--event", "death", "--spec", str(spec),
                 "--splits", "2", "--quiet"]) == 0
    text = capsys.readouterr().out
    for name in ("CAMLIFSurvival", "Coxnet (all)", "CoxPH (clinical)"):
        line = next(line for line in text.splitlines() if name in line)
        c = float(re.search(r"C (\d\.\d+)", line).group(1))
        assert 0.5 < c < 1.0, line


@pytest.mark.parametrize("change, message", [
    (lambda args: args[:2] + ["--time", "nope"] + args[4:], r"\['nope'\] are not in the data"),
    (lambda args: [args[0], "missing.csv"] + args[2:], r"cannot read missing.csv"),
    (lambda args: [args[0], "spec.toml"] + args[2:], r"expected a .csv"),
])
def test_clear_errors_and_nothing_written(spec, tmp_path, capsys, change, message):
    out = tmp_path / "model.joblib"
    assert main(change(_fit_args(spec, out))) == 1
    assert re.search(message, capsys.readouterr().err)
    assert not out.exists() and not list(tmp_path.glob(".model.joblib*"))


def test_bad_spec_keys(spec, tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(spec.read_text().replace('name = "cnv"', 'name = "cnv"\ncolour = "red"'))
    assert main(_fit_args(bad, tmp_path / "m.joblib")) == 1
    assert "unknown key(s) ['colour']" in capsys.readouterr().err
    bad.write_text(spec.read_text().replace("[estimator]", "[estimator]\nwidth = 3"))
    assert main(_fit_args(bad, tmp_path / "m.joblib")) == 1
    assert "unknown parameter(s) ['width']" in capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert re.match(r"sksurv-camlif \d", capsys.readouterr().out)

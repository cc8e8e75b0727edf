"""The fit / predict / cv commands on a CSV table and a TOML spec."""

import re
from pathlib import Path

import joblib
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


def test_cv_on_given_splits_reproduces_the_demo(tmp_path, monkeypatch, capsys):
    """The bundled data written as a table with the authors' first split as a column:
    `cv --split-columns` gives the demo's C of every model on that split."""
    import io

    from sksurv_camlif import CAMLIFSurvival
    from sksurv_camlif.cli import cv
    from sksurv_camlif.datasets import load_tcga_gbmlgg
    from sksurv_camlif.demo import run_demo

    # both build their CAMLIFSurvival with the defaults: make the defaults tiny
    tiny = {k: v for k, v in FAST.items() if k not in ("random_state", "device")}
    monkeypatch.setattr(CAMLIFSurvival.__init__, "__kwdefaults__",
                        dict(CAMLIFSurvival.__init__.__kwdefaults__, **tiny))
    data = load_tcga_gbmlgg()
    table = data.X.assign(days=data.y["time"], death=data.y["event"], split1=data.splits[1])
    table.to_csv(tmp_path / "gbmlgg.csv", index=False)
    (tmp_path / "spec.toml").write_text(
        re.sub(r"\[estimator\][^\[]*", "[estimator]\nrandom_state = 0\n\n",
               (EXAMPLES / "cli_spec.toml").read_text(), count=1))

    demo = run_demo(n_splits=1, seed=0, device="cpu", quiet=True, file=io.StringIO())
    folds = cv(tmp_path / "gbmlgg.csv", tmp_path / "spec.toml", time="days", event="death",
               seed=0, progress=False, split_columns=["split1"]).set_index("model")["c_index"]
    assert_allclose(folds["CAMLIFSurvival"], demo.loc[1, "CAMLIFSurvival"], rtol=1e-6)
    assert_allclose(folds["Coxnet (all)"], demo.loc[1, "Coxnet (all features)"], rtol=1e-9)
    assert_allclose(folds["CoxPH (clinical)"], demo.loc[1, "CoxPH (clinical)"], rtol=1e-9)


@pytest.mark.parametrize("values, message", [
    ([2] * 200, "only True/False"),
    ([1] * 200, "empty train or test part"),
])
def test_bad_split_column(spec, tmp_path, capsys, values, message):
    data = pd.read_csv(DATA).assign(split1=values)
    data.to_csv(tmp_path / "d.csv", index=False)
    code = main(["cv", str(tmp_path / "d.csv"), "--time", "days", "--event", "death",
                 "--spec", str(spec), "--split-columns", "split1", "--quiet"])
    assert code == 1 and message in capsys.readouterr().err

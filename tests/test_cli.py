"""The fit / predict / cv commands on a CSV table and a TOML spec."""

import re
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from sklearn.preprocessing import StandardScaler

import sksurv_camlif
from conftest import TINY_NET, make_small_data, small_est
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
    model, pred = tmp_path / "model.skops", tmp_path / "pred.csv"
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
    assert sksurv_camlif.load(model).modalities_ == ["genomic", "cnv"]


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
    out = tmp_path / "model.skops"
    assert main(change(_fit_args(spec, out))) == 1
    assert re.search(message, capsys.readouterr().err)
    assert not out.exists() and not list(tmp_path.glob(".model.skops*"))


def test_bad_spec_keys(spec, tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(spec.read_text().replace('name = "cnv"', 'name = "cnv"\ncolour = "red"'))
    assert main(_fit_args(bad, tmp_path / "m.skops")) == 1
    assert "unknown key(s) ['colour']" in capsys.readouterr().err
    bad.write_text(spec.read_text().replace("[estimator]", "[estimator]\nwidth = 3"))
    assert main(_fit_args(bad, tmp_path / "m.skops")) == 1
    assert "unknown parameter(s) ['width']" in capsys.readouterr().err


@pytest.mark.parametrize("block, clinical, message", [
    ('name = "g"\ncategorical = "gender"', "", r"spec: modality 'g': categorical must be a list of column names"),
    ('name = "g"\nnumeric = ["EGFR", "age"]', 'numeric = ["age"]',
     r"column 'age' is in both modality 'g' and clinical; a column belongs to one block"),
    ('name = "g"\ncolumns = ["EGFR"]\ncategorical = ["EGFR"]', "",
     r"modality 'g': column\(s\) \['EGFR'\] are listed as both numeric and categorical"),
    ('name = "g"\ncategorical = ["nope"]', "", r"modality 'g': column\(s\) \['nope'\] are not in the data"),
    ('name = "g"\ncolumns = ["EGFR"]\nscale = "yes"', "", r"modality 'g': scale must be true or false"),
])
def test_bad_block_specs(tmp_path, capsys, block, clinical, message):
    spec = _block_spec(tmp_path, block, clinical)
    assert main(_fit_args(spec, tmp_path / "m.skops")) == 1
    assert re.search(message, capsys.readouterr().err)


def test_estimator_table_cannot_set_the_blocks(spec, tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(spec.read_text().replace("[estimator]", '[estimator]\nclinical = "age"'))
    assert main(_fit_args(bad, tmp_path / "m.skops")) == 1
    assert "[estimator] cannot set ['clinical']" in capsys.readouterr().err


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


# -- tables with text columns, unused columns, parallel folds, baselines, start-up ---------

def _block_spec(tmp_path, block, clinical='numeric = ["age"]\ncategorical = ["gender"]'):
    """A spec with the tiny network, the given [[modalities]] body and [clinical] body."""
    table = "\n".join(f"{k} = {v!r}".replace("'", '"') for k, v in FAST.items())
    path = tmp_path / "block.toml"
    path.write_text(f"[estimator]\n{table}\n\n[[modalities]]\n{block}\n\n[clinical]\n{clinical}\n")
    return path


def _table(tmp_path, data, name="table.csv"):
    data.to_csv(tmp_path / name, index=False)
    return tmp_path / name


def test_categorical_columns_in_a_block(tmp_path, capsys):
    """`categorical` in a [[modalities]] block: most-frequent imputed, then one-hot; a level
    unseen in training predicts; a pattern does not make a categorical column numeric."""
    data = pd.read_csv(DATA)
    data["subtype"] = ["a", "b", "c", None] * 50
    spec = _block_spec(tmp_path, 'name = "mixed"\npattern = "^(1[0-9][pq]|EGFR|subtype)$"\n'
                                 'categorical = ["subtype", "histology"]')
    model, pred, table = tmp_path / "m.skops", tmp_path / "p.csv", _table(tmp_path, data)
    args = ["fit", str(table), "--time", "days", "--event", "death", "--spec", str(spec), "--out", str(model)]
    assert main(args) == 0, capsys.readouterr().err
    est = sksurv_camlif.load(model)
    parts = {name: cols for name, _, cols in est.modalities[0][1].transformers}
    assert parts["cat"] == ["subtype", "histology"]
    assert "subtype" not in parts["num"] and "EGFR" in parts["num"]
    # one output per level; the missing one imputed with the most frequent (no "nan" level)
    names = list(est._blocks[0].feature_names_out(est.feature_names_in_))
    assert [n for n in names if "subtype" in n] == [f"mixed__cat__subtype_{v}" for v in "abc"]
    new = data.assign(subtype=["z"] * 200)  # a level never seen
    assert main(["predict", str(model), str(_table(tmp_path, new, "new.csv")), "--out", str(pred)]) == 0
    assert pd.read_csv(pred)["risk"].notna().all()
    bad = data.assign(EGFR=["high"] * 200)  # predict checks the table too
    assert main(["predict", str(model), str(_table(tmp_path, bad, "bad.csv")), "--out", str(pred)]) == 1
    assert "modality 'mixed': column(s) ['EGFR'] hold text (e.g. 'high' in 'EGFR')" in capsys.readouterr().err


@pytest.mark.parametrize("block, clinical, message", [
    ('name = "genomic"\ncolumns = ["EGFR", "gender"]', 'numeric = ["age"]',
     r"modality 'genomic': column\(s\) \['gender'\] hold text \(e\.g\. '(male|female)' in 'gender'\), "
     r"not numbers; list them under categorical in that block"),
    ('name = "cnv"\npattern = "^[0-9]+[pq]$|^hist"', 'numeric = ["age"]',
     r"modality 'cnv': column\(s\) \['histology'\] hold text"),
    ('name = "genomic"\ncolumns = ["EGFR"]', 'numeric = ["age", "gender"]',
     r"clinical: column\(s\) \['gender'\] hold text .* move them from numeric to categorical"),
])
def test_text_in_a_numeric_part_names_block_and_column(tmp_path, capsys, block, clinical, message):
    spec, model = _block_spec(tmp_path, block, clinical), tmp_path / "m.skops"
    assert main(_fit_args(spec, model)) == 1
    assert re.search(message, capsys.readouterr().err)
    assert not model.exists()


def test_unused_columns_are_neither_needed_nor_counted(spec, tmp_path, capsys):
    """The example spec uses 84 columns: the model is fitted on those (not on `patient` or
    an extra text column) and predicts from a table that lacks the unused ones."""
    data = pd.read_csv(DATA).assign(note="free text", sample_yr=1997)
    model, pred = tmp_path / "m.skops", tmp_path / "p.csv"
    assert main(_fit_args(spec, model)[:1] + [str(_table(tmp_path, data))] + _fit_args(spec, model)[2:]) == 0
    assert "fitted on 84 columns" in capsys.readouterr().out
    est = sksurv_camlif.load(model)
    assert est.n_features_in_ == 84 and not {"patient", "note", "sample_yr", "days"} & set(est.feature_names_in_)
    slim = data.drop(columns=["patient", "note", "sample_yr", "days", "death"])
    assert main(["predict", str(model), str(_table(tmp_path, slim[slim.columns[::-1]], "slim.csv")),
                 "--out", str(pred)]) == 0
    X = data[list(est.feature_names_in_)]
    assert_allclose(pd.read_csv(pred)["risk"], est.predict(X), rtol=1e-6, atol=1e-7)
    assert main(["predict", str(model), str(_table(tmp_path, slim.drop(columns=["age", "1q"]), "bad.csv")),
                 "--out", str(pred)]) == 1
    assert "the data lack column(s) the model was fitted with: ['1q', 'age']" in capsys.readouterr().err


def test_cv_n_jobs_gives_the_serial_figures(spec, tmp_path):
    from sksurv_camlif.cli import cv

    small = _table(tmp_path, pd.read_csv(DATA).iloc[:80])
    kwargs = dict(time="days", event="death", n_splits=2, seed=3, progress=False)
    serial = cv(small, spec, n_jobs=1, **kwargs)
    parallel = cv(small, spec, n_jobs=2, **kwargs)
    assert len(serial) == 6 and serial["c_index"].notna().all()
    pd.testing.assert_frame_equal(parallel, serial)


def test_cv_verbose_prints_a_line_per_fold(spec, capsys):
    assert main(["cv", str(DATA), "--time", "days", "--event", "death", "--spec", str(spec),
                 "--splits", "2", "--verbose"]) == 0
    err = capsys.readouterr().err
    for k in (1, 2):
        assert re.search(rf"^fold {k}/2 \(\d+\.\d s\): CAMLIFSurvival C 0\.\d{{4}}, Coxnet \(all\) C 0\.\d{{4}}",
                         err, flags=re.M), err


def test_coxnet_baseline_converges_where_cold_fits_fail():
    """On this training part (the example table, folds of seed 4) presets.CoxnetCV's cold fit
    at its smallest alphas stops with "weights are too large"; CoxnetPathCV reaches the same
    alphas along the path and chooses the same alpha."""
    import warnings

    from sklearn.exceptions import FitFailedWarning
    from sklearn.model_selection import StratifiedKFold
    from sksurv.util import Surv

    from sksurv_camlif.cli import CoxnetPathCV
    from sksurv_camlif.presets import CoxnetCV

    data = pd.read_csv(DATA)
    y = Surv.from_arrays(data["death"].astype(bool), data["days"].astype(float))
    numeric = [c for c in data.columns if c not in ("patient", "death", "days", "gender", "histology")]
    train = next(StratifiedKFold(5, shuffle=True, random_state=4).split(data, y["event"]))[0]
    args = (numeric, ["gender", "histology"])
    with pytest.warns(FitFailedWarning):
        cold = CoxnetCV(*args, random_state=4).fit(data.iloc[train], y[train])
    with warnings.catch_warnings():
        warnings.simplefilter("error", FitFailedWarning)
        path = CoxnetPathCV(*args, random_state=4).fit(data.iloc[train], y[train])
    assert path.failures_ == [] and not np.isnan(path.cv_scores_).any()
    assert_allclose(path.alphas_, cold.alphas_)
    assert path.alpha_ == cold.alpha_


def test_baseline_failures_are_one_line_each(spec, capsys, monkeypatch):
    """A baseline that fails (here CoxPH, made to) costs one line per fold on stderr, no
    traceback; Coxnet, whose smallest alphas are made to fail and every fit to warn, a line
    per inner fold that lost alphas and one for its warnings; the command succeeds."""
    from sksurv.linear_model import CoxnetSurvivalAnalysis, CoxPHSurvivalAnalysis

    from sksurv_camlif import cli

    import warnings

    class Broken(CoxPHSurvivalAnalysis):
        def fit(self, X, y):  # the warnings before a failure add no line
            warnings.warn("overflow encountered in exp", RuntimeWarning)
            raise np.linalg.LinAlgError("Matrix is singular.\nmore detail")

    class Fragile(CoxnetSurvivalAnalysis):
        def fit(self, X, y):  # the smallest two of the ten candidate alphas fail
            if self.alphas is not None and len(self.alphas) > 8:
                raise ArithmeticError("Numerical error, because weights are too large.")
            for i in range(5):  # many warnings: one line
                warnings.warn(f"warning {i}\nsecond line", RuntimeWarning)
            return super().fit(X, y)

    # the CLI's baselines only: CAMLIFSurvival's own offset fits stay as they are
    monkeypatch.setattr(cli, "CoxPHSurvivalAnalysis", Broken)
    monkeypatch.setattr(cli, "CoxnetSurvivalAnalysis", Fragile)
    assert main(["cv", str(DATA), "--time", "days", "--event", "death", "--spec", str(spec),
                 "--splits", "2", "--quiet"]) == 0
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert "Traceback" not in err and len(lines) == 2 * (1 + 3 + 1), err
    for k in (1, 2):
        assert (f"sksurv-camlif cv: CoxPH (clinical), fold {k}: failed (LinAlgError: Matrix is "
                "singular.); its C and IBS are left out") in lines
        for inner in (1, 2, 3):
            assert any(line.startswith(f"sksurv-camlif cv: Coxnet (all), fold {k}: inner fold {inner}: "
                                       "the 2 smallest alpha(s)") for line in lines), err
        assert (f"sksurv-camlif cv: Coxnet (all), fold {k}: warned: RuntimeWarning: warning 0; "
                "RuntimeWarning: warning 1; RuntimeWarning: warning 2 and 2 more") in lines
    assert re.search(r"CoxPH \(clinical\)\s+C nan", out)
    assert re.search(r"Coxnet \(all\)\s+C 0\.\d+", out)


def test_cv_on_the_example_writes_nothing_to_stderr(spec, tmp_path):
    """In a fresh process (warnings as the user sees them): seed 4, whose folds made
    presets.CoxnetCV print FitFailedWarning tracebacks, leaves stderr empty."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run(
        [sys.executable, "-m", "sksurv_camlif", "cv", str(DATA), "--time", "days", "--event", "death",
         "--spec", str(spec), "--seed", "4", "--quiet"],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr[-3000:]
    assert "Coxnet (all)" in proc.stdout


def test_help_imports_neither_torch_nor_scikit_survival():
    """`--help` starts fast: it imports neither torch nor scikit-survival; the estimator,
    imported from the package, still comes after scikit-survival's Pipeline patch."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
    code = (
        "import sys, runpy\n"
        "sys.argv = ['sksurv-camlif', '--help']\n"
        "try:\n    runpy.run_module('sksurv_camlif', run_name='__main__')\n"
        "except SystemExit as exc:\n    assert exc.code == 0, exc.code\n"
        "print('LOADED', sorted(m for m in ('torch', 'sksurv', 'sklearn') if m in sys.modules))\n"
        "from sksurv_camlif import CAMLIFSurvival\n"
        "from sklearn.pipeline import Pipeline\n"
        "print('AFTER', 'torch' in sys.modules, hasattr(Pipeline, 'predict_survival_function'))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "usage: sksurv-camlif" in proc.stdout
    assert "LOADED []" in proc.stdout and "AFTER True True" in proc.stdout, proc.stdout[-500:]


def test_the_flchain_and_the_reference_page_specs_build(tmp_path):
    """examples/cli_flchain.toml fits scikit-survival's flchain columns, 7 of them; the
    spec shown in docs/cli.md is valid and selects what its comments say."""
    from sksurv.datasets import load_flchain

    from sksurv_camlif.cli import model_columns

    X, _ = load_flchain()
    est = build_estimator(read_spec(EXAMPLES / "cli_flchain.toml"), ["id", *X.columns])
    assert model_columns(est) == ["kappa", "lambda", "flc.grp", "creatinine", "mgus", "age", "sex"]

    page = (EXAMPLES.parent / "docs" / "cli.md").read_text()
    (toml,) = re.findall(r"^```toml\n(.*?)^```", page, flags=re.M | re.S)
    names = ["id", "albumin", "creatinine", "crp", "marker_1", "marker_2", "hb_class", "urine_protein",
             "cn_1p", "cn_1q", "age", "bmi", "sex", "stage", "smoker", "notes"]
    (tmp_path / "page.toml").write_text(toml)
    est = build_estimator(read_spec(tmp_path / "page.toml"), names)
    labs = {name: cols for name, _, cols in est.modalities[0][1].transformers}
    assert labs == {"num": ["albumin", "creatinine", "crp", "marker_1", "marker_2"],
                    "cat": ["hb_class", "urine_protein"]}
    cnv_steps = [type(step).__name__ for _, step in est.modalities[1][1].steps]
    assert cnv_steps == ["SimpleImputer"] and est.modalities[1][2] == ["cn_1p", "cn_1q"]
    assert "id" not in model_columns(est) and "notes" not in model_columns(est)


def _write_marker(path):
    with open(path, "w") as f:
        f.write("this ran")


class _Payload:
    """Unpickling it writes a file: what a malicious model pickle does."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return _write_marker, (self.path,)


def test_predict_reads_a_pickle_only_with_trust_pickle(spec, tmp_path, capsys):
    """A pickle or joblib file is refused (and not run) unless --trust-pickle says the user
    trusts it; a genuine one then predicts as the model file does."""
    model, old, pred = tmp_path / "model.skops", tmp_path / "old.joblib", tmp_path / "p.csv"
    assert main(_fit_args(spec, model)) == 0
    joblib.dump(sksurv_camlif.load(model), old)
    args = ["predict", str(old), str(DATA), "--out", str(pred)]
    assert main(args) == 1
    assert "--trust-pickle" in capsys.readouterr().err and not pred.exists()
    assert main(args + ["--trust-pickle"]) == 0
    risk = pd.read_csv(pred)["risk"]
    assert main(["predict", str(model), str(DATA), "--out", str(pred)]) == 0
    assert_allclose(pd.read_csv(pred)["risk"], risk, rtol=0, atol=0)
    # a payload pickle: refused, and its code never runs
    marker, evil = tmp_path / "ran.txt", tmp_path / "evil.skops"
    joblib.dump(_Payload(str(marker)), evil)
    assert main(["predict", str(evil), str(DATA), "--out", str(tmp_path / "q.csv")]) == 1
    assert not marker.exists() and not (tmp_path / "q.csv").exists()


class UserScaler(StandardScaler):
    """A user's own transformer class."""


def test_predict_names_an_untrusted_type_and_trust_admits_it(tmp_path, capsys):
    X, y = make_small_data()
    est = small_est([("m1", UserScaler(), ["a", "b", "c"]), ("m2", "passthrough", ["d", "e", "f"])]).fit(X, y)
    model, pred, table = tmp_path / "m.skops", tmp_path / "p.csv", _table(tmp_path, X)
    est.save(model)
    name = f"{UserScaler.__module__}.UserScaler"
    assert main(["predict", str(model), str(table), "--out", str(pred)]) == 1
    assert f"--trust {name}" in capsys.readouterr().err and not pred.exists()
    assert main(["predict", str(model), str(table), "--out", str(pred), "--trust", name]) == 0
    assert_allclose(pd.read_csv(pred)["risk"], est.predict(X), rtol=0, atol=0)


def test_help_says_why_pickles_need_trust(capsys):
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--trust-pickle" in text and "runs any code" in text


# -- --plot -----------------------------------------------------------------------------------
@pytest.fixture
def saved_figures(monkeypatch):
    """The Axes of every figure the command line saves, by file name (the files are still
    written)."""
    pytest.importorskip("matplotlib")
    from sksurv_camlif import cli

    saved, save = {}, cli._save_figure

    def spy(ax, path):
        saved[Path(path).name] = ax
        return save(ax, path)

    monkeypatch.setattr(cli, "_save_figure", spy)
    return saved


def _is_png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000


def test_predict_plot_writes_survival_curves_and_contribution_charts(spec, tmp_path, capsys, saved_figures):
    model, pred, folder = tmp_path / "model.skops", tmp_path / "pred.csv", tmp_path / "new" / "figures"
    assert main(_fit_args(spec, model)) == 0
    assert main(["predict", str(model), str(DATA), "--out", str(pred), "--explain", "--id", "patient",
                 "--plot", str(folder), "--plot-patients", "3"]) == 0
    out = pd.read_csv(pred)
    ids = list(out["patient"][:3])
    names = ["survival_curves.png"] + [f"contributions_{i}.png" for i in ids]
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)
    assert all(_is_png(folder / name) for name in names)
    printed = capsys.readouterr().out.splitlines()
    assert [line for line in printed if line.startswith("figure written to ")] == \
        [f"figure written to {folder / name}" for name in names]
    # the first three patients' curves, their shares as bars
    curves = saved_figures["survival_curves.png"]
    assert [t.get_text() for t in curves.get_legend().get_texts()] == ids
    assert all(((line.get_ydata() >= 0) & (line.get_ydata() <= 1)).all() for line in curves.get_lines())
    est = sksurv_camlif.load(model)
    for k, patient in enumerate(ids):
        bars = saved_figures[f"contributions_{patient}.png"].patches
        shares = out.loc[k, ["linear__genomic", "linear__cnv", "linear__clinical", "network"]]
        assert_allclose([b.get_width() for b in bars], shares.to_numpy(dtype=float), rtol=1e-5, atol=1e-7)
    assert len(curves.get_lines()) == 3 and est.modalities_ == ["genomic", "cnv"]

    # without --explain and --id: every patient's curve, no contribution chart, no legend
    saved_figures.clear()
    other = tmp_path / "other"
    assert main(["predict", str(model), str(DATA), "--out", str(pred), "--plot", str(other)]) == 0
    assert [p.name for p in other.iterdir()] == ["survival_curves.png"]
    curves = saved_figures["survival_curves.png"]
    assert len(curves.get_lines()) == len(out) and curves.get_legend() is None


def test_contribution_charts_without_id_are_named_by_row(spec, tmp_path, saved_figures):
    model, folder = tmp_path / "model.skops", tmp_path / "figs"
    table = _table(tmp_path, pd.read_csv(DATA).iloc[:30])
    assert main(_fit_args(spec, model)) == 0
    assert main(["predict", str(model), str(table), "--out", str(tmp_path / "p.csv"), "--explain",
                 "--plot", str(folder)]) == 0
    # at most five charts, the first five rows, counted from 1
    assert sorted(p.name for p in folder.glob("contributions_*")) == [f"contributions_row{k}.png" for k in range(1, 6)]
    assert saved_figures["contributions_row2.png"].get_title().startswith("patient row2\nlog-risk")


def test_cv_plot_writes_the_pooled_out_of_fold_risk_groups(spec, tmp_path, capsys, saved_figures):
    table, folder = _table(tmp_path, pd.read_csv(DATA).iloc[:90]), tmp_path / "cv" / "figures"
    assert main(["cv", str(table), "--time", "days", "--event", "death", "--spec", str(spec), "--splits", "3",
                 "--quiet", "--plot", str(folder), "--risk-groups", "2"]) == 0
    path = folder / "cv_risk_groups.png"
    assert [p.name for p in folder.iterdir()] == [path.name] and _is_png(path)
    assert f"figure written to {path}" in capsys.readouterr().out
    ax = saved_figures[path.name]
    assert len(ax.get_lines()) == 2  # two risk groups
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    sizes = [int(re.search(r"n = (\d+)$", label).group(1)) for label in labels]
    assert sum(sizes) == 90 and labels[0].startswith("low risk") and labels[1].startswith("high risk")
    assert re.fullmatch(r"log-rank p = \S+", ax.get_legend().get_title().get_text())
    assert "90 patients, 3 folds" in ax.get_title() and ax.get_xlabel() == "days"


def test_cv_plot_on_overlapping_given_splits_draws_each_split(tmp_path, saved_figures):
    from sksurv_camlif.cli import cv

    data = pd.read_csv(DATA).iloc[:80]
    rng = np.random.default_rng(0)
    train = {"s1": rng.random(80) < 0.7, "s2": rng.random(80) < 0.7}  # the test parts overlap
    table = _table(tmp_path, data.assign(**train))
    spec = tmp_path / "spec.toml"
    spec.write_text(re.sub(r"\[estimator\][^\[]*", "[estimator]\n" + "\n".join(
        f"{k} = {v!r}".replace("'", '"') for k, v in FAST.items()) + "\n\n",
        (EXAMPLES / "cli_spec.toml").read_text(), count=1))
    result = cv(table, spec, time="days", event="death", progress=False, split_columns=["s1", "s2"],
                plot=tmp_path / "f")
    assert [Path(p).name for p in result.attrs["figures"]] == ["cv_risk_groups_s1.png", "cv_risk_groups_s2.png"]
    for name, column in (("cv_risk_groups_s1.png", "s1"), ("cv_risk_groups_s2.png", "s2")):
        ax = saved_figures[name]
        sizes = [int(re.search(r"n = (\d+)$", t.get_text()).group(1)) for t in ax.get_legend().get_texts()]
        assert len(ax.get_lines()) == 3 and sum(sizes) == (~train[column]).sum()


@pytest.mark.parametrize("command", ["predict", "cv"])
def test_plot_without_matplotlib_names_the_extra(spec, tmp_path, capsys, monkeypatch, command):
    import sys

    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    folder, pred = tmp_path / "figs", tmp_path / "p.csv"
    args = (["predict", "model.skops", str(DATA), "--out", str(pred)] if command == "predict" else
            ["cv", str(DATA), "--time", "days", "--event", "death", "--spec", str(spec), "--quiet"])
    assert main(args + ["--plot", str(folder)]) == 1
    err = capsys.readouterr().err
    assert f"sksurv-camlif {command}: error: --plot:" in err and 'pip install "sksurv-camlif[plot]"' in err
    assert not folder.exists() and not pred.exists()  # stopped before any work

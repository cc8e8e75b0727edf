"""Smoke test of benchmarks/synthetic.py: fast mode in tmp_path, plus the data generation."""

import json

import numpy as np
import pytest
from conftest import benchmark_script_fixture

pytest.importorskip("matplotlib")

TRUTHS = ("linear", "interaction", "nonlinear")


syn = benchmark_script_fixture("synthetic.py")


@pytest.fixture(scope="module")
def fast_run(syn, tmp_path_factory):
    """One fast run (2 replicates, n_train 300, 200 test rows; oracle, CoxPH (clinical),
    Coxnet and CAMLIF with max_iter=3) on two truths."""
    tmp = tmp_path_factory.mktemp("synthetic")
    out, results = tmp / "docs" / "synthetic.md", tmp / "results"
    argv = ["--fast", "--truths", "linear", "nonlinear", "--n-jobs", "1",
            "--out", str(out), "--results-dir", str(results)]
    with pytest.MonkeyPatch.context() as mp:
        # the cache keys on a hash of the package source; pin it so that an edit of the
        # package during the test does not look like a changed model
        mp.setattr(syn, "code_fingerprint", lambda key: "pinned")
        assert syn.main(argv) == 0
        yield argv, out, results


def test_fast_mode_writes_the_report(syn, fast_run):
    argv, out, results = fast_run
    files = sorted(results.rglob("*.json"))
    assert len(files) == 2 * 1 * 2 * 4  # truths x n_train x replicates x models
    rows = [json.loads(f.read_text()) for f in files]
    assert {r["model"] for r in rows} == {"oracle", "coxph_clinical", "coxnet", "camlif"}
    for r in rows:
        assert r["n_train"] == 300 and r["n_test"] == 200 and r["replicate"] in (1, 2)
        assert 0.0 <= r["cindex"] <= 1.0
        assert 0.35 <= r["censored_train"] <= 0.65 and 0.35 <= r["censored_test"] <= 0.65
    assert all(r["n_iter"] <= 3 for r in rows if r["model"] == "camlif")

    text = out.read_text()
    for needle in ("# Semi-synthetic benchmark", "do not edit by hand", "## Design", "## Truths",
                   "## Models", "## Results", "### linear", "#### linear, n_train = 300", "### nonlinear",
                   "#### nonlinear, n_train = 300", "Oracle (true η)", "Coxnet (all)", "CoxPH (clinical)",
                   "CAMLIF", "ΔC vs Coxnet", "## Figure", "Hardware", "Fast mode", "orphan: true"):
        assert needle in text, needle
    assert "### interaction" not in text  # only what was run is reported
    for truth in ("linear", "nonlinear"):
        assert syn.FORMULAS[truth].split("\n")[0] in text
        assert f"{syn.CALIBRATION[truth]['scale']:g}" in text
    assert (out.parent / "_static" / syn.FIG_NAME).stat().st_size > 0

    # The oracle beats every model on average (over truths and replicates).
    mean = {}
    for r in rows:
        mean.setdefault(r["model"], []).append(r["cindex"])
    mean = {k: float(np.mean(v)) for k, v in mean.items()}
    assert all(mean["oracle"] > c for k, c in mean.items() if k != "oracle"), mean

    # A second run resumes from the cache: nothing is refitted.
    stamps = {f: f.stat().st_mtime_ns for f in files}
    assert syn.main(argv) == 0
    assert {f: f.stat().st_mtime_ns for f in files} == stamps


def test_parts_share_no_patient_and_are_nested(syn):
    for r in (1, 2, 3):
        d = syn.make_replicate("linear", r, 500, n_test=300)
        assert len(d["X_train"]) == 500 and len(d["X_test"]) == 300
        assert not set(d["train_patients"]) & set(d["test_patients"])
        assert len(set(d["train_patients"]) | set(d["test_patients"])) <= 769
        big = syn.make_replicate("linear", r, 900, n_test=300)
        np.testing.assert_array_equal(big["train_patients"][:500], d["train_patients"])
        np.testing.assert_array_equal(big["y_train"][:500], d["y_train"])
        np.testing.assert_array_equal(big["y_test"], d["y_test"])  # same test part for every n_train
    # the models see the real columns, with their missing values
    X = syn.load_pool()[0]
    assert list(d["X_train"].columns) == list(X.columns)
    assert d["X_train"].isna().any().any()


@pytest.mark.parametrize("truth", TRUTHS)
def test_truth_is_calibrated(syn, truth):
    s = syn.pool_scores()[truth]
    assert abs(s.mean()) < 1e-9 and abs(s.std() - 1) < 1e-9
    # oracle C and censoring on a large independent sample (not the calibration one)
    c_index, censored = syn.oracle_check(truth, n=20_000, stream=syn.STREAM_CHECK)
    assert 0.77 <= c_index <= 0.83
    assert 0.35 <= censored <= 0.65
    for r in (1, 2):
        d = syn.make_replicate(truth, r, 769, n_test=1000)
        for part in ("y_train", "y_test"):
            assert 0.35 <= 1 - d[part]["event"].mean() <= 0.65


def test_specified_model_sees_the_terms_of_the_right_rows(syn, tmp_path):
    """The ``specified`` Cox model is fitted on the truth's terms of the train rows: on the
    linear truth its one term is a multiple of the true log-risk, so it ranks the test rows
    exactly as the oracle (misaligned rows would not); and the terms rebuild the score."""
    for truth in TRUTHS:
        terms, weights = syn.truth_terms(truth)
        np.testing.assert_array_equal(
            syn.truth_score(truth), syn._std(sum(w * terms[c].to_numpy() for c, w in zip(terms.columns, weights))))
    cfg = {"n_test": 200, "camlif_max_iter": None, "rsf_trees": 10, "results_dir": str(tmp_path),
           "fingerprint": "test", "git": None}
    oracle = syn.run_task("linear", 300, 1, "oracle", cfg)
    specified = syn.run_task("linear", 300, 1, "specified", cfg)
    assert specified["cindex"] == pytest.approx(oracle["cindex"], abs=1e-12)

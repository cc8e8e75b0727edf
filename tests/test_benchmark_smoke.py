"""Smoke test of benchmarks/benchmark.py: quick mode, wpbc, 1 split, 2 models, in tmp_path."""

import json

import pytest
from conftest import benchmark_script_fixture

pytest.importorskip("SurvSet")  # wpbc comes from the survset package
pytest.importorskip("matplotlib")


bench = benchmark_script_fixture("benchmark.py")


def test_quick_wpbc_one_split_two_models(bench, tmp_path):
    out = tmp_path / "docs" / "benchmarks.md"
    results = tmp_path / "results"
    argv = [
        "--quick", "--datasets", "wpbc", "--splits", "1", "--models", "camlif,coxph_clinical",
        "--n-jobs", "1", "--out", str(out), "--results-dir", str(results),
    ]
    assert bench.main(argv) == 0

    files = sorted(results.rglob("*.json"))
    assert [f.name for f in files] == ["camlif__split01.json", "coxph_clinical__split01.json"]
    for f in files:
        r = json.loads(f.read_text())
        assert r["dataset"] == "wpbc" and r["split"] == 1
        assert 0.0 <= r["cindex"] <= 1.0
        assert 0.0 <= r["ibs"] <= 1.0  # both models give survival functions
        assert r["fit_time"] >= 0 and len(r["risk_test"]) == r["n_test"]
    camlif = json.loads(files[0].read_text())
    assert camlif["loss_curve"] and camlif["n_iter"] == len(camlif["loss_curve"])

    text = out.read_text()
    for needle in ("## Data sets", "wpbc", "CAMLIF", "CoxPH (clinical)", "IBS", "Hardware"):
        assert needle in text
    assert "**" in text  # the best model is in bold
    assert (out.parent / "_static" / bench.FIG_CINDEX).stat().st_size > 0

    # A second run resumes from the cache: nothing is refitted.
    stamps = {f: f.stat().st_mtime_ns for f in files}
    assert bench.main(argv) == 0
    assert {f: f.stat().st_mtime_ns for f in files} == stamps


def test_models_expand_per_dataset(bench):
    dsm = bench._bench_module("datasets")
    ds = dsm.load_dataset("wpbc")
    keys = bench.models_for(ds, ["all"])
    assert {"camlif_only_mean", "camlif_only_se", "camlif_only_worst", "rsf", "deepsurv"} <= set(keys)
    assert bench.models_for(ds, ["camlif", "coxnet"]) == ["camlif", "coxnet"]
    grid = bench.ibs_times(ds)
    assert grid == sorted(grid) and len(grid) >= 5
    with pytest.raises(ValueError, match="unknown model"):
        bench.models_for(ds, ["nope"])

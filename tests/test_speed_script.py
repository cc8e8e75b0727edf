"""benchmarks/speed.py: the matmul FLOP counts of section f match a hand count; the targets
and the page are computed from the figures."""

from types import SimpleNamespace

import pytest
from conftest import benchmark_script_fixture

speed = benchmark_script_fixture("speed.py")


def test_section_f_counts_match_a_hand_count(speed):
    import torch

    n, batch = 200, 64
    out = speed.section_flops(SimpleNamespace(sizes=[n]), torch.device("cpu"))
    camlif, mlp = out["epoch"]
    # DeepSurv (705 -> 64 -> 64 -> 1), every row once per epoch: forward 2 * sum(in * out)
    # per row; backward the same for the weights, plus the inputs of all layers but the first
    p = speed.P_A + speed.P_B + speed.P_CLIN
    forward = 2 * (p * 64 + 64 * 64 + 64 * 1)
    backward = forward + 2 * (64 * 64 + 64 * 1)
    assert mlp["gflop_epoch"] * 1e9 == pytest.approx(n * (forward + backward), rel=1e-9)
    # the tokenizers multiply each group's own columns: (B, K, p / K) x (K, p / K, d) per block
    params = speed.CAMLIFSurvival([]).get_params()
    parts = out["forward_parts"]
    assert parts["tokenizers"] == 2 * batch * (speed.P_A + speed.P_B) * params["d_model"]
    assert parts["encoders"] > 0 and parts["cross"] > 0
    assert camlif["ratio"] == pytest.approx(camlif["gflop_epoch"] / mlp["gflop_epoch"])
    assert camlif["ratio"] > 1


def _results():
    when = {"date": "2026-01-01", "load": [0.1, 0.3], "code": {"git": "abc1234", "package": "f00"},
            "threads": 1, "quick": False}
    tall = [{"case": "CAMLIF default", "model": "camlif", "fit_s": 30.0, "members_s": 20.0, "test_c": 0.8,
             "n_train": 5905, "n_features": 7, "peak_rss_mib": 100, "widths": None},
            {"case": "GBSA", "model": "gbsa", "fit_s": 25.0, "test_c": 0.8, "n_train": 5905, "n_features": 7,
             "peak_rss_mib": 3, "widths": None}]
    wide = [{"case": "CAMLIF default", "model": "camlif", "fit_s": 50.0, "members_s": 10.0, "test_c": 0.7,
             "n_train": 800, "n_features": 7001, "peak_rss_mib": 500, "widths": [5000, 2000]},
            {"case": "Coxnet", "model": "coxnet", "fit_s": 10.0, "test_c": 0.7, "n_train": 800,
             "n_features": 7001, "peak_rss_mib": 100, "widths": [5000, 2000]},
            {"case": "big", "model": "camlif", "widths": [20000], "error": "timeout after 1200 s"}]
    return {"meta": {"cpu": "test CPU", "logical_cpus": 2, "cuda": None},
            "devices": {"cpu": {"tall": tall, "wide": wide, "_measured": {"tall": when, "wide": when}}}}


def test_targets_and_page_come_from_the_figures(speed):
    results = _results()
    targets = {t["target"]: t for t in speed.check_targets(results, None)}
    assert targets["[cpu] tall data: default fit / gradient boosting"]["value"] == "1.20x"
    assert targets["[cpu] tall data: default fit / gradient boosting"]["met"]
    assert targets["[cpu] wide data: default fit / 5-fold Coxnet CV"]["value"] == "5.00x"
    assert not targets["[cpu] wide data: default fit / 5-fold Coxnet CV"]["met"]
    assert not targets["[cpu] a 20,000-feature block fits"]["met"]
    results["targets"] = list(targets.values())

    from speed_report import render

    page = render(results)
    assert "**1.20x** gradient boosting's" in page and "**5.00x** the Coxnet's" in page
    assert "timeout after 1200 s" in page
    assert "Measured 2026-01-01, 1-minute load average 0.1-0.3" in page
    assert "[^1]: commit abc1234, package sources f00" in page
    assert "| [cpu] wide data: default fit / 5-fold Coxnet CV | 5.00x | <= 4x | **no** |" in page
    assert "nan" not in page and "dirty" not in page

"""benchmarks/speed.py section f: the matmul FLOP counts it reports match a hand count."""

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
    # the tokenizers' block-masked matmul: (B, p) @ (p, K * d) per block
    params = speed.CAMLIFSurvival([]).get_params()
    parts = out["forward_parts"]
    assert parts["tokenizers"] == 2 * batch * (speed.P_A + speed.P_B) * params["n_tokens"] * params["d_model"]
    assert parts["encoders"] > 0 and parts["cross"] > 0
    assert camlif["ratio"] == pytest.approx(camlif["gflop_epoch"] / mlp["gflop_epoch"])
    assert camlif["ratio"] > 1

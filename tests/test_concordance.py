"""The package's Harrell's C is scikit-survival's, many predictors at once."""

import numpy as np
import pytest
from sksurv.metrics import concordance_index_censored

from sksurv_camlif._concordance import harrell_c


def _reference(event, time, risk):
    try:
        return concordance_index_censored(event, time, risk)[0]
    except ValueError:  # no comparable pair
        return np.nan


@pytest.mark.parametrize("seed", range(6))
def test_equals_scikit_survival_with_ties(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 300))
    # tied times (integers) on odd seeds; tied and near-tied risks in every case
    time = rng.integers(1, 15, n).astype(float) if seed % 2 else rng.exponential(1.0, n)
    event = rng.random(n) < rng.uniform(0.1, 0.9)
    event[0] = True
    risk = rng.normal(size=(n, 5))
    risk[:, 1] = np.round(risk[:, 1])
    risk[:, 2] = 0.0
    risk[:, 3] = risk[:, 0] + rng.choice([0.0, 1e-9, 1e-6], n)
    risk[:, 4] = -time  # perfectly concordant
    got = harrell_c(event, time, risk)
    assert got.shape == (5,)
    expected = [_reference(event, time, risk[:, j]) for j in range(5)]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    assert harrell_c(event, time, risk[:, 0]) == pytest.approx(expected[0], abs=1e-12)


def test_large_sample_blocks():
    rng = np.random.default_rng(0)
    n = 5000  # several blocks and query chunks
    time, event = rng.exponential(1.0, n), rng.random(n) < 0.3
    risk = rng.normal(size=n) - 0.5 * np.log(time)
    assert harrell_c(event, time, risk) == pytest.approx(_reference(event, time, risk), abs=1e-12)


def test_no_comparable_pair_is_nan():
    time = np.array([1.0, 2.0, 3.0])
    assert np.isnan(harrell_c(np.zeros(3, bool), time, np.arange(3.0)))
    assert np.isnan(harrell_c(np.array([False, False, True]), time, np.arange(3.0)))
    assert np.isnan(harrell_c(np.zeros(3, bool), time, np.ones((3, 2)))).all()

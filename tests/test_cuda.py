"""CAMLIFSurvival on a CUDA device: placement, determinism, CUDA -> CPU pickling, mixed
precision (``precision="bfloat16"``).

Every test is marked ``cuda`` and skipped unless ``torch.cuda.is_available()``; select them
with ``pytest -m cuda``. Data: scikit-survival's breast-cancer set (two gene blocks and a
clinical block), a small network trained for a few epochs.
"""

import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sksurv.datasets import load_breast_cancer
from sksurv.metrics import concordance_index_censored

from conftest import TINY_NET
from sksurv_camlif import CAMLIFSurvival

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

ROOT = Path(__file__).resolve().parents[1]

# a little wider than the shared tiny network, on the GPU
PARAMS = {**TINY_NET, "d_model": 16, "hidden_size": 32, "n_tokens": 4, "max_iter": 10, "early_stopping": False,
          "device": "cuda", "n_threads": None}

# The same data, loaded in a subprocess for the unpickling test.
_SETUP = """
from sksurv.datasets import load_breast_cancer

X, y = load_breast_cancer()
"""


def _clinical():
    return (
        ColumnTransformer(
            [
                ("num", StandardScaler(), ["age", "size"]),
                ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["er", "grade"]),
            ]
        ),
        ["age", "size", "er", "grade"],
    )


def _make(genes, **params):
    spec = [("g1", "passthrough", genes[:38]), ("g2", StandardScaler(), genes[38:])]
    return CAMLIFSurvival(spec, clinical=_clinical(), **{**PARAMS, **params})


def _concordance(reference, other):
    """Harrell's C of ``other`` as a ranking of ``reference`` (1 = the same order)."""
    n = reference.shape[0]
    return concordance_index_censored(np.ones(n, bool), -reference, other)[0]


@pytest.fixture(scope="module")
def breast():
    X, y = load_breast_cancer()
    genes = [c for c in X.columns if c.startswith("X")]
    return X, y, genes


@pytest.fixture(scope="module")
def fitted(breast):
    X, y, genes = breast
    return _make(genes).fit(X, y)


def test_device_placement(fitted, breast):
    X, y, genes = breast
    assert fitted.device_.type == "cuda"
    assert all(p.device.type == "cuda" for p in fitted.module_.parameters())
    assert all(b.device.type == "cuda" for b in fitted.module_.buffers())
    pred = fitted.predict(X)
    assert pred.dtype == np.float64 and pred.shape == (X.shape[0],)
    assert np.isfinite(pred).all()
    assert fitted.score(X, y) > 0.6
    surv = fitted.predict_survival_function(X.iloc[:5], return_array=True)
    assert np.isfinite(surv).all() and ((surv >= 0) & (surv <= 1)).all()

    est = _make(genes, device="cuda:0", max_iter=2).fit(X, y)
    assert est.device_ == torch.device("cuda:0")
    assert next(est.module_.parameters()).device == torch.device("cuda:0")
    assert np.isfinite(est.predict(X)).all()


def test_early_stopping_on_cuda(breast):
    X, y, genes = breast
    est = _make(genes, early_stopping=True, max_iter=30, n_iter_no_change=3).fit(X, y)
    assert 1 <= est.n_iter_ <= 30
    assert est.best_validation_score_ == pytest.approx(max(est.validation_scores_))
    assert np.isfinite(est.predict(X)).all()


def test_deterministic_with_seed(fitted, breast):
    """Same seed, same predictions, bit for bit, and the global CUDA RNG is untouched."""
    X, y, _ = breast
    torch.cuda.manual_seed_all(7)
    before = torch.cuda.get_rng_state()
    again = clone(fitted).fit(X, y)
    assert torch.equal(torch.cuda.get_rng_state(), before)
    assert_array_equal(again.predict(X), fitted.predict(X))
    other = clone(fitted).set_params(random_state=1).fit(X, y)
    assert not np.array_equal(other.predict(X), fitted.predict(X))


def test_pickle_cuda_to_cpu(fitted, breast, tmp_path):
    """Pickled on CUDA, unpickled where no GPU is visible: loads on the CPU, same predictions."""
    X, _, _ = breast
    expected = fitted.predict(X)
    model = tmp_path / "model.pkl"
    out = tmp_path / "pred.npy"
    model.write_bytes(pickle.dumps(fitted))
    assert hasattr(fitted, "module_")  # pickling leaves the original fitted
    assert_array_equal(fitted.predict(X), expected)

    script = _SETUP + textwrap.dedent(
        f"""
        import pickle, warnings
        import numpy as np
        import torch

        assert not torch.cuda.is_available()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            est = pickle.loads(open({str(model)!r}, "rb").read())
        assert any("not available" in str(w.message) for w in caught), [str(w.message) for w in caught]
        assert est.device_.type == "cpu", est.device_
        assert all(p.device.type == "cpu" for p in est.module_.parameters())
        np.save({str(out)!r}, est.predict(X))
        """
    )
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert_allclose(np.load(out), expected, rtol=0, atol=1e-5)


def test_bfloat16_autocast_forward_matches_float32(breast):
    """The forward pass of an fp32-trained model under bf16 autocast ranks like fp32."""
    X, y, genes = breast
    est = _make(genes, max_iter=20).fit(X, y)
    ref = est.predict(X)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        low = est.predict(X)
    assert low.dtype == np.float64 and np.isfinite(low).all()
    spread = ref.max() - ref.min()
    assert spread > 0
    assert np.abs(low - ref).max() <= 0.05 * spread
    assert _concordance(ref, low) > 0.98


def test_bfloat16_training(breast, fitted):
    """precision="bfloat16" trains (autocast forward), keeps float32 weights and predicts."""
    X, y, genes = breast
    est = _make(genes, precision="bfloat16").fit(X, y)
    assert all(p.dtype == torch.float32 for p in est.module_.parameters())
    pred = est.predict(X)
    assert pred.dtype == np.float64 and np.isfinite(pred).all()
    assert np.isfinite(est.loss_curve_).all()
    assert est.score(X, y) > 0.6
    # same seed, same data: close to the float32 model's ranking
    assert _concordance(fitted.predict(X), pred) > 0.9
    restored = pickle.loads(pickle.dumps(est))
    assert_allclose(restored.predict(X), pred, rtol=1e-5, atol=1e-5)

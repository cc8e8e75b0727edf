"""Persistence: pickle and joblib round trips, CUDA-trained models on the CPU, versions,
no unsafe torch.load."""

import ast
import pathlib
import pickle
import re
import warnings

import joblib
import pytest
import torch
from numpy.testing import assert_array_equal

import sksurv_camlif
from sksurv_camlif import CAMLIFSurvival
from sksurv_camlif._version import __version__

from conftest import small_est


# ----------------------------------------------------------------------- persistence


@pytest.fixture
def model(data):
    """A fresh fitted model with its predictions taken before any pickling."""
    X, y = data
    est = small_est(max_iter=2).fit(X, y)
    return est, est.predict(X), est.predict_survival_function(X, return_array=True)


def _snapshot(est, X):
    """Everything a fitted model predicts on X, computed now."""
    fns = est.predict_survival_function(X)
    return dict(
        predict=est.predict(X),
        steps=[(f.x, f.y, f.a, f.b) for f in fns],
        surv=est.predict_survival_function(X, return_array=True),
        chf=est.predict_cumulative_hazard_function(X, return_array=True),
        unique_times=est.unique_times_,
        n_iter=est.n_iter_,
        loss_curve=list(est.loss_curve_),
    )


def _assert_same_snapshot(a, b):
    assert_array_equal(a["predict"], b["predict"])
    assert len(a["steps"]) == len(b["steps"])
    for (xa, ya, aa, ba), (xb, yb, ab, bb) in zip(a["steps"], b["steps"]):
        assert_array_equal(xa, xb)
        assert_array_equal(ya, yb)
        assert aa == ab and ba == bb
    for key in ("surv", "chf", "unique_times"):
        assert_array_equal(a[key], b[key])
    assert a["n_iter"] == b["n_iter"] and a["loss_curve"] == b["loss_curve"]




def test_pickle_round_trip(data):
    X, y = data
    est = small_est(max_iter=2).fit(X, y)
    expected = _snapshot(est, X)
    blob = pickle.dumps(est)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no version warning within one version
        loaded = pickle.loads(blob)
    assert loaded.device_ == torch.device("cpu")
    _assert_same_snapshot(_snapshot(loaded, X), expected)
    # a loaded model pickles again
    _assert_same_snapshot(_snapshot(pickle.loads(pickle.dumps(loaded)), X), expected)


def test_joblib_round_trip(data, tmp_path):
    X, y = data
    est = small_est(max_iter=2).fit(X, y)
    expected = _snapshot(est, X)
    path = tmp_path / "camlif.joblib"
    joblib.dump(est, path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = joblib.load(path)
    _assert_same_snapshot(_snapshot(loaded, X), expected)


def test_pickling_leaves_the_model_intact(data):
    """Regression: __getstate__ used to edit the instance's own __dict__ (on Python >= 3.11
    object.__getstate__ does not copy), so pickling unfitted the model."""
    X, y = data
    est = small_est(max_iter=2).fit(X, y)
    expected = _snapshot(est, X)
    attributes = set(vars(est))
    pickle.dumps(est)
    assert set(vars(est)) == attributes
    assert isinstance(est.device_, torch.device)
    _assert_same_snapshot(_snapshot(est, X), expected)


def _state(est):
    """The pickled state, taken from an unpickled copy (pickling mutates the original)."""
    return pickle.loads(pickle.dumps(est)).__getstate__()


@pytest.mark.skipif(torch.cuda.is_available(), reason="simulates a machine without CUDA")
@pytest.mark.parametrize("saved", ["cuda", "cuda:0", "cuda:1"])
def test_model_trained_on_cuda_loads_on_cpu(model, data, saved):
    X, _ = data
    est, pred, _ = model
    state = _state(est)
    assert isinstance(state["device_"], str)
    assert all(v.device.type == "cpu" for member in state["_member_states"] for v in member.values())
    state["device_"] = saved
    new = CAMLIFSurvival.__new__(CAMLIFSurvival)
    with pytest.warns(UserWarning, match=rf"{re.escape(saved)}.*not available.*CPU"):
        new.__setstate__(state)
    assert new.device_ == torch.device("cpu")
    assert all(p.device.type == "cpu" for p in new.module_.parameters())
    assert_array_equal(new.predict(X), pred)


def test_pickle_from_another_version_warns(model, data):
    X, _ = data
    est, pred, _ = model
    state = _state(est)
    state["_sksurv_camlif_version"] = "0.0.1"
    new = CAMLIFSurvival.__new__(CAMLIFSurvival)
    with pytest.warns(UserWarning) as record:
        new.__setstate__(state)
    messages = [str(w.message) for w in record]
    assert any("0.0.1" in m and __version__ in m for m in messages), messages
    assert_array_equal(new.predict(X), pred)


def test_pickle_of_this_version_does_not_warn(model):
    est, _, _ = model
    blob = pickle.dumps(est)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pickle.loads(blob)


def _unsafe_torch_loads(source, filename="<string>"):
    """Calls of torch.load (or ``load`` imported from torch) without weights_only=True."""
    tree = ast.parse(source, filename)
    aliases = {"torch.load", "torch.serialization.load"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("torch", "torch.serialization"):
            aliases |= {a.asname or a.name for a in node.names if a.name == "load"}
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and ast.unparse(node.func) in aliases:
            safe = any(
                kw.arg == "weights_only" and isinstance(kw.value, ast.Constant) and kw.value.value is True
                for kw in node.keywords
            )
            if not safe:
                bad.append(f"{filename}:{node.lineno}: {ast.unparse(node)}")
    return bad


def test_checker_detects_unsafe_torch_load():
    assert _unsafe_torch_loads("import torch\ntorch.load(f)\n")
    assert _unsafe_torch_loads("import torch\ntorch.load(\n    f,\n    weights_only=False)\n")
    assert _unsafe_torch_loads("from torch import load as tl\ntl(f, map_location='cpu')\n")
    assert _unsafe_torch_loads("import torch\ntorch.load(f, **kw)\n")
    assert not _unsafe_torch_loads("import torch\ntorch.load(\n    f, map_location='cpu', weights_only=True)\n")


def test_no_torch_load_without_weights_only():
    root = pathlib.Path(sksurv_camlif.__file__).parent
    files = sorted(root.rglob("*.py"))
    assert len(files) > 10
    bad = []
    for path in files:
        bad += _unsafe_torch_loads(path.read_text(encoding="utf-8"), str(path.relative_to(root.parent)))
    assert not bad, "torch.load without weights_only=True:\n" + "\n".join(bad)


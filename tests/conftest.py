"""Shared test configuration: the tiny, fast, deterministic network every file uses, and
the small data set and clean-failure checks of the input, failure, absent-modality and
persistence tests."""

import copy

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import StandardScaler
from sksurv.util import Surv

from sksurv_camlif.presets import PAPER_NETWORK

#: A tiny network on the CPU with one torch thread and a fixed seed: a fit takes a fraction
#: of a second on the test data. Files add their own epoch budget.
TINY_NET = dict(
    d_model=8,
    n_heads=2,
    hidden_size=16,
    n_encoder_layers=1,
    n_tokens=2,
    device="cpu",
    n_threads=1,
    random_state=0,
)

#: The paper's plain network (no linear offset, one member with its own validation split,
#: the paper's alignment weight): for tests of the training loop itself.
PLAIN = dict(PAPER_NETWORK)


def tiny(max_iter, **params):
    """``TINY_NET`` trained ``max_iter`` epochs without early stopping, plus ``params``."""
    return {**TINY_NET, "max_iter": max_iter, "early_stopping": False, **params}


def benchmark_script_fixture(filename):
    """A module-scoped fixture that imports ``benchmarks/<filename>`` by path (skipping the
    tests where this checkout lacks it) and removes it from ``sys.modules`` afterwards."""
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / filename

    @pytest.fixture(scope="module")
    def script():
        if not path.exists():
            pytest.skip(f"benchmarks/{filename} is not in this checkout")
        name = f"_camlif_{path.stem}_under_test"
        yield load_script(path, name)
        sys.modules.pop(name, None)

    return script


def load_script(path, name):
    """Import the script at ``path`` (``benchmarks/`` is not a package) as module ``name``;
    the caller removes it from ``sys.modules`` when done."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


#: the reliability tests' tiny data and model: 40 patients, two 3-column blocks
SMALL = tiny(max_iter=3)
N = 40
COLS = ["a", "b", "c", "d", "e", "f"]


def small_spec():
    return [("m1", "passthrough", ["a", "b", "c"]), ("m2", StandardScaler(), ["d", "e", "f"])]


def small_int_spec():
    return [("m1", "passthrough", [0, 1, 2]), ("m2", StandardScaler(), [3, 4, 5])]


def small_est(modalities=None, **params):
    from sksurv_camlif import CAMLIFSurvival

    return CAMLIFSurvival(small_spec() if modalities is None else modalities, **{**SMALL, **params})


def make_small_data(seed=0, n=N):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, len(COLS))), columns=COLS)
    risk = X["a"].to_numpy() - X["d"].to_numpy()
    time = rng.exponential(10 * np.exp(-risk)) + 0.1
    event = rng.random(n) < 0.7
    event[:2] = True
    return X, Surv.from_arrays(event, time)



def fitted_attributes(est):
    return sorted(k for k in vars(est) if k.endswith("_") and not k.startswith("__"))


def snapshot(X):
    if isinstance(X, (pd.DataFrame, np.ndarray)):
        return X.copy(deep=True) if hasattr(X, "iloc") else X.copy()
    return copy.deepcopy(X)


def assert_unchanged(after, before):
    if isinstance(before, pd.DataFrame):
        pd.testing.assert_frame_equal(after, before)
    elif isinstance(before, np.ndarray):
        assert after.dtype == before.dtype
        if before.dtype.names:  # structured: compare field by field (NaN-aware)
            for name in before.dtype.names:
                assert_array_equal(after[name], before[name])
        else:
            assert_array_equal(after, before)
    else:
        assert after == before


def assert_fails_cleanly(est, X, y, exc, match):
    """fit raises ``exc`` matching ``match``; no module_ is left; X and y are unmodified."""
    X0, y0 = snapshot(X), snapshot(y)
    with pytest.raises(exc, match=match):
        est.fit(X, y)
    assert not hasattr(est, "module_")
    with pytest.raises(NotFittedError):
        est.predict(X0)
    assert_unchanged(X, X0)
    assert_unchanged(y, y0)


def with_absent_blocks(X):
    """``X`` (a copy) with block m1 absent for patients 1, 5, 9 and m2 for 2, 6."""
    X = X.copy()
    X.loc[[1, 5, 9], ["a", "b", "c"]] = np.nan
    X.loc[[2, 6], ["d", "e", "f"]] = np.nan
    return X


def profile_allocations(fn):
    """Every individual CPU allocation (bytes) and every recorded op input shape while
    running ``fn``.

    Reads the allocation events of the profiler's event tree (torch's semi-private API);
    if that is unavailable, falls back to the memory each op leaves allocated.
    """
    from torch.profiler import ProfilerActivity, profile

    try:
        from torch._C._profiler import _EventType
    except ImportError:  # pragma: no cover - other torch versions
        _EventType = None
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True, record_shapes=True) as prof:
        fn()
    sizes = []

    def walk(nodes):
        for node in nodes:
            if node.typed[0] == _EventType.Allocation:
                sizes.append(node.typed[1].alloc_size)
            walk(node.children)

    try:
        walk(prof.profiler.kineto_results.experimental_event_tree())
    except AttributeError:  # pragma: no cover - other torch versions
        sizes = [e.cpu_memory_usage for e in prof.events()]
    shapes = [tuple(s) for e in prof.events() for s in (e.input_shapes or []) if s]
    return sizes, shapes


@pytest.fixture(scope="module")
def data():
    """The small data set (40 patients) of the input, failure, absent-modality and
    persistence tests; files with their own ``data`` fixture override it."""
    return make_small_data()


@pytest.fixture(scope="module")
def fitted(data):
    """``small_est()`` fitted on ``data``, shared by read-only tests (never pickled:
    pickling may change it)."""
    X, y = data
    return small_est().fit(X, y)

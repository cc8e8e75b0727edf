"""Model files (CAMLIFSurvival.save, sksurv_camlif.load): identical predictions after a round
trip, no code from the file runs, untrusted types refused and named, the version rule."""

import io
import json
import pickle
import warnings
import zipfile

import joblib
import numpy as np
import pandas as pd
import pytest
import skops.io as sio
import torch
from numpy.testing import assert_array_equal
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import NotFittedError
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import sksurv_camlif
from sksurv_camlif import model_file
from sksurv_camlif._version import __version__
from sksurv_camlif.model_file import ModelFileError, UntrustedTypesError
from sksurv_camlif.protocol import ClinicalRidgeOffset

from conftest import PLAIN, make_small_data, small_est, with_absent_blocks


def _pipeline():
    return make_pipeline(SimpleImputer(), StandardScaler())


def _table():
    """The small data with partial gaps, absent blocks, a numeric and a coded clinical column."""
    X, y = make_small_data()
    X = with_absent_blocks(X)
    X.loc[[3, 7], "b"] = np.nan  # partial gaps: the imputers' work
    rng = np.random.default_rng(1)
    X["age"] = rng.normal(60, 10, len(X))
    X["stage"] = pd.Series(rng.choice(["I", "II", "III", None], len(X)), dtype=object)
    return X, y


PIPELINES = dict(
    modalities=[("m1", _pipeline(), ["a", "b", "c"]), ("m2", _pipeline(), ["d", "e", "f"])],
    clinical=(ColumnTransformer([
        ("num", _pipeline(), ["age"]),
        ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["stage"]),
    ]), ["age", "stage"]),
)

#: name -> (CAMLIFSurvival parameters, data): the default protocol as it is and with the
#: networks' weight fixed at 0.5 (so that they count), the plain network, a transformer
#: pipeline per block with a one-hot clinical block (the offset's spline basis included),
#: the clinical ridge offset
MODELS = {
    "default": ({}, "small"),
    "default, w = 0.5": (dict(residual_weights=[0.5]), "small"),
    "plain network": (dict(PLAIN, early_stopping=True, max_iter=4), "small"),
    "pipelines": (dict(PIPELINES, residual_weights=[0.5]), "table"),
    "clinical ridge offset": (dict(PIPELINES, offset=ClinicalRidgeOffset(), residual_weights=[0.5]), "table"),
}


def _data(kind):
    return make_small_data() if kind == "small" else _table()


def _fit(name):
    params, kind = MODELS[name]
    X, y = _data(kind)
    return small_est(**params).fit(X, y), X


def _everything(est, X):
    """What a fitted model gives on X: predictions, survival and hazard functions, the
    explanation."""
    fns = est.predict_survival_function(X)
    return dict(
        predict=est.predict(X),
        surv=est.predict_survival_function(X, return_array=True),
        chf=est.predict_cumulative_hazard_function(X, return_array=True),
        steps=np.array([np.r_[f.x, f.y, f.a, f.b, f.domain] for f in fns]),
        explain=est.explain(X),
    )


def _assert_identical(a, b):
    for key in ("predict", "surv", "chf", "steps"):
        assert_array_equal(a[key], b[key], strict=True, err_msg=key)  # max |difference| 0
    pd.testing.assert_frame_equal(a["explain"], b["explain"], check_exact=True)


def _round_trip(est, tmp_path, **load_kw):
    path = tmp_path / "model.skops"
    est.save(path)
    return sksurv_camlif.load(path, **load_kw)


@pytest.mark.parametrize("name", list(MODELS))
def test_round_trip_is_identical(name, tmp_path):
    est, X = _fit(name)
    expected = _everything(est, X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no version or device warning within one machine
        loaded = _round_trip(est, tmp_path)
    _assert_identical(_everything(loaded, X), expected)
    # every attribute is back, the plain ones equal
    assert sorted(vars(loaded)) == sorted(vars(est))
    for key in model_file._PLAIN_ATTRIBUTES + ("histories_", "unique_times_", "device_", "modalities"):
        if key in vars(est):
            assert repr(getattr(loaded, key)) == repr(getattr(est, key)), key
    assert loaded.get_params(deep=False).keys() == est.get_params(deep=False).keys()
    # and a loaded model is written and read again
    _assert_identical(_everything(_round_trip(loaded, tmp_path), X), expected)


def test_a_model_with_spline_curves_holds_no_scipy_type(tmp_path):
    """The offset's spline basis is written as arrays: the file names no scipy type, and the
    rebuilt basis gives the same design."""
    est, X = _fit("pipelines")
    assert est.offset_.splines_ is not None and est.offset_.splines_.n_outputs > 0
    path = tmp_path / "m.skops"
    est.save(path)
    assert not [t for t in sio.get_untrusted_types(file=path) if t.startswith("scipy")]
    loaded = sksurv_camlif.load(path)
    clin = np.linspace(-3, 3, 50)[:, None] * np.ones((1, est._clinical_block.n_outputs))
    assert_array_equal(loaded.offset_.splines_.transform(clin), est.offset_.splines_.transform(clin))


def test_the_default_gbmlgg_model(tmp_path):
    """The default model of the bundled data (SimpleImputer, one-hot clinical, spline curves)
    needs nothing trusted beyond the package's list."""
    from sksurv_camlif.datasets import iter_splits, load_tcga_gbmlgg
    from sksurv_camlif.presets import default_gbmlgg_estimator

    X, y, _, splits = load_tcga_gbmlgg()
    train, test = next(iter_splits(splits))
    est = default_gbmlgg_estimator(max_iter=2, n_threads=1, residual_weights=[0.5]).fit(X.iloc[train], y[train])
    path = tmp_path / "gbmlgg.skops"
    est.save(path)
    assert model_file.untrusted_types(path) == []
    _assert_identical(_everything(sksurv_camlif.load(path), X.iloc[test]), _everything(est, X.iloc[test]))


def test_weights_are_numpy_arrays_and_a_cuda_model_loads_on_the_cpu(tmp_path):
    est, X = _fit("default, w = 0.5")
    document = model_file._describe(est)
    assert all(isinstance(v, np.ndarray) for member in document["members"] for v in member.values())
    if torch.cuda.is_available():
        pytest.skip("simulates a machine without CUDA")
    document["device"] = "cuda:0"  # as written by a model fitted on a GPU
    with pytest.warns(UserWarning, match=r"cuda:0.*not available.*CPU"):
        loaded = model_file._rebuild(sio.loads(sio.dumps(document), trusted=list(model_file.TRUSTED_TYPES)))
    assert loaded.device_ == torch.device("cpu")
    assert_array_equal(loaded.predict(X), est.predict(X))


def test_saving_needs_a_fitted_model_and_leaves_no_file_on_failure(tmp_path):
    X, y = make_small_data()
    with pytest.raises(NotFittedError):
        small_est().save(tmp_path / "m.skops")
    # a lambda is written by name by skops, but cannot be read back
    est = small_est([("m1", "passthrough", lambda X: [0, 1, 2]), ("m2", "passthrough", [3, 4, 5])]).fit(X, y)
    with pytest.raises(TypeError, match="cannot be written as a model file"):
        est.save(tmp_path / "m.skops")
    assert not (tmp_path / "m.skops").exists()


# ------------------------------------------------------------------------ trust


class Doubler(TransformerMixin, BaseEstimator):
    """A user's own transformer: not trusted until the user says so."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return 2 * np.asarray(X, dtype=float)


def test_a_users_transformer_is_refused_by_name_unless_trusted(tmp_path):
    X, y = make_small_data()
    est = small_est([("m1", Doubler(), ["a", "b", "c"]), ("m2", "passthrough", ["d", "e", "f"])],
                    residual_weights=[0.5]).fit(X, y)
    path = tmp_path / "m.skops"
    est.save(path)
    name = f"{Doubler.__module__}.Doubler"
    assert model_file.untrusted_types(path) == [name]
    with pytest.raises(UntrustedTypesError, match=name) as info:
        sksurv_camlif.load(path)
    assert info.value.types == [name]
    for trusted in ([name], [Doubler], name):
        assert_array_equal(sksurv_camlif.load(path, trusted=trusted).predict(X), est.predict(X))


_MARKER = {}  # the file a payload would write


def _write_marker(path):
    with open(path, "w") as f:
        f.write("this ran")


class PicklePayload:
    """Unpickling it calls _write_marker: what a malicious pickle does."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return _write_marker, (self.path,)


class StatePayload:
    """Built by skops, its __setstate__ would write the file."""

    def __init__(self, path):
        self.path = path

    def __getstate__(self):
        return {"path": self.path}

    def __setstate__(self, state):
        _write_marker(state["path"])


@pytest.fixture
def marker(tmp_path):
    return tmp_path / "ran.txt"


def test_payloads_are_live(marker):
    """The payloads below do write the file when built: the refusals are the loaders' doing."""
    pickle.loads(pickle.dumps(PicklePayload(str(marker))))
    assert marker.exists()
    marker.unlink()
    sio.loads(sio.dumps(StatePayload(str(marker))), trusted=[StatePayload])
    assert marker.exists()


def _model_file(tmp_path):
    est, _ = _fit("default")
    path = tmp_path / "model.skops"
    est.save(path)
    return path


def _rewrite(path, change):
    """Rewrite the zip at ``path``: ``change(members)`` edits the dict of name -> bytes."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    change(members)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_a_pickle_is_refused_without_running_it(tmp_path, marker):
    path = tmp_path / "model.skops"
    joblib.dump(PicklePayload(str(marker)), path)
    with pytest.raises(ModelFileError, match="not a sksurv-camlif model file.*pickle"):
        sksurv_camlif.load(path)
    assert not marker.exists()


def _spliced(obj, key, into):
    """``rewrite(members)`` that puts the skops node of ``obj`` at ``into`` in the file's schema."""
    node = json.loads(zipfile.ZipFile(io.BytesIO(sio.dumps({key: obj}))).read("schema.json"))["content"][key]

    def rewrite(members):
        schema = json.loads(members["schema.json"])
        schema["content"][into] = node
        members["schema.json"] = json.dumps(schema).encode()

    return rewrite


@pytest.mark.parametrize("what", ["an extra object of an untrusted type", "a function in place of the offset"])
def test_untrusted_objects_are_refused_without_building_them(tmp_path, marker, what):
    """An object whose construction would write the marker, or a reference to a function (how
    pickles run code): refused, naming the type, and nothing runs."""
    path = _model_file(tmp_path)
    if what.startswith("an extra"):
        rewrite, name = _spliced(StatePayload(str(marker)), "x", "extra"), r"test_model_file\.StatePayload"
    else:
        rewrite, name = _spliced(_write_marker, "f", "offset"), r"test_model_file\._write_marker"
    _rewrite(path, rewrite)
    with pytest.raises(UntrustedTypesError, match=name):
        sksurv_camlif.load(path)
    assert not marker.exists()


def test_a_pickled_array_in_the_archive_is_refused(tmp_path, marker):
    """An .npy member replaced by an object array, which numpy would unpickle."""
    path = _model_file(tmp_path)
    evil = io.BytesIO()
    np.save(evil, np.array([PicklePayload(str(marker))], dtype=object), allow_pickle=True)

    def swap(members):
        name = next(n for n in members if n.endswith(".npy"))
        members[name] = evil.getvalue()

    _rewrite(path, swap)
    with pytest.raises(ModelFileError, match="damaged or altered"):
        sksurv_camlif.load(path)
    assert not marker.exists()


# --------------------------------------------------------------------------- versions


def _set_header(path, **fields):
    def change(members):
        header = json.loads(members["sksurv_camlif.json"])
        header.update(fields)
        members["sksurv_camlif.json"] = json.dumps(header).encode()

    _rewrite(path, change)


def test_header_records_the_versions(tmp_path):
    with zipfile.ZipFile(_model_file(tmp_path)) as archive:
        header = json.loads(archive.read("sksurv_camlif.json"))
    assert header["format_version"] == model_file.FORMAT_VERSION
    assert header["sksurv_camlif"] == __version__
    assert {"scikit-learn", "scikit-survival", "torch", "numpy", "skops"} <= set(header)


def test_another_package_version_loads_with_a_warning(tmp_path):
    path = _model_file(tmp_path)
    _set_header(path, sksurv_camlif="0.0.1")
    with pytest.warns(UserWarning, match=rf"0\.0\.1.*{__version__}"):
        sksurv_camlif.load(path)


def test_another_format_version_is_refused(tmp_path):
    path = _model_file(tmp_path)
    _set_header(path, format_version=model_file.FORMAT_VERSION + 1, sksurv_camlif="9.0")
    with pytest.raises(ModelFileError, match=rf"format version {model_file.FORMAT_VERSION + 1}.*9\.0"):
        sksurv_camlif.load(path)


def test_a_skops_file_of_something_else_is_refused(tmp_path):
    path = tmp_path / "other.skops"
    sio.dump(StandardScaler(), path)
    with pytest.raises(ModelFileError, match="not a sksurv-camlif model file"):
        sksurv_camlif.load(path)

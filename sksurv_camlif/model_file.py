"""Model files: a fitted CAMLIFSurvival in one file that loads without running code from it.

A model file is a `skops <https://skops.readthedocs.io>`_ archive (a zip of JSON and ``.npy``
files; no pickle) holding a plain description of the fitted model: its parameters, the
fitted block transformers, the fitted offset, the members' weights as numpy arrays with the
network's arguments, the Breslow baseline as arrays, the training records, and a header
(``sksurv_camlif.json``) with the file format and the versions that wrote it.

:func:`load` rebuilds the estimator with this package's own code. Before anything is built it
lists every type the file names: each must be a type that skops trusts (scikit-learn's
estimators, numpy arrays, Python's containers and scalars), one of :data:`TRUSTED_TYPES`,
or one the caller passes as ``trusted``; otherwise the file is refused, naming the types.
"""

import copy
import dataclasses
import io
import json
import os
import warnings
import zipfile

import numpy as np
import sklearn
import skops
import skops.io as sio
import sksurv
import torch
from scipy.interpolate import BSpline
from sklearn.compose import make_column_selector
from sklearn.preprocessing import SplineTransformer
from sklearn.utils.validation import check_is_fitted
from sksurv.functions import StepFunction
from sksurv.linear_model.coxph import BreslowEstimator

from ._version import __version__
from .device import restore_device
from .estimator import CAMLIFSurvival
from .modality import FittedBlock
from .nn import CAMLIFNet
from .protocol.offset import ClinicalRidgeOffset, CoxnetOffset
from .protocol.splines import SplineBasis
from .training import History

__all__ = ["FORMAT_VERSION", "TRUSTED_TYPES", "ModelFileError", "UntrustedTypesError", "save", "load",
           "untrusted_types"]

#: The layout of the description; a file loads only where this number is the same.
FORMAT_VERSION = 1
_HEADER = "sksurv_camlif.json"
_FORMAT = "sksurv-camlif model"


def _type_name(t):
    """A type's fully qualified name, as skops writes it."""
    return t if isinstance(t, str) else f"{t.__module__}.{t.__qualname__}"


#: Types beyond skops' own trusted ones (scikit-learn's estimators, numpy arrays, Python's
#: containers and scalars) that a model built from this package's parts holds. Each is built
#: with ``cls.__new__`` and its attributes set (the offsets through scikit-learn's
#: ``__setstate__``); nothing else runs. skops stores a ``numpy.dtype`` (SimpleImputer keeps
#: its fit dtype) as an empty ``.npy`` array; ``make_column_selector`` holds a pattern and
#: dtypes, and is called only when a model is fitted.
TRUSTED_TYPES = tuple(_type_name(t) for t in (CoxnetOffset, ClinicalRidgeOffset, np.dtype, make_column_selector))

#: Fitted attributes stored as they are (arrays, numbers, strings, lists and dicts of them);
#: the others are converted by :func:`_describe` and rebuilt by :func:`_rebuild`.
_PLAIN_ATTRIBUTES = ("n_features_in_", "feature_names_in_", "offset_weight_", "residual_weight_", "oof_risk_",
                     "inner_fold_", "residual_cv_", "modalities_", "member_best_epochs_", "member_n_iter_",
                     "loss_curve_", "n_iter_", "validation_scores_", "best_validation_score_", "best_epoch_",
                     "history_", "interrupted_", "_explain_means")
_STEP_FUNCTIONS = ("cum_baseline_hazard_", "baseline_survival_")


class ModelFileError(ValueError):
    """The file is not a model file this version of the package can read."""


class UntrustedTypesError(ModelFileError):
    """The file holds types that are not trusted; ``types`` lists them."""

    def __init__(self, message, types):
        super().__init__(message)
        self.types = list(types)


# -- writing ---------------------------------------------------------------------------------
def save(est, path):
    """Write the fitted ``est`` to the model file ``path``.

    Parameters
    ----------
    est : CAMLIFSurvival
        A fitted model (on any device: the weights are written from the CPU).
    path : str, path-like or binary file object
        Where to write; ``.skops`` is the usual extension. The file is written at once when
        the description is complete, so a failed save leaves no partial file.

    Raises
    ------
    TypeError
        Some part cannot be written without pickle (e.g. a lambda as a block's columns).
    """
    if type(est) is not CAMLIFSurvival:  # load rebuilds a CAMLIFSurvival, nothing else
        raise TypeError(f"save writes a CAMLIFSurvival, got {type(est).__name__}")
    check_is_fitted(est, "members_")
    try:
        # deflated: a third smaller for a default model (many small arrays), same load time
        data = sio.dumps(_describe(est), compression=zipfile.ZIP_DEFLATED)
        # skops writes a lambda (e.g. a block's columns) by name but cannot read it back:
        # fail here, not when someone loads the file
        sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    except Exception as exc:  # skops raises TypeError, AttributeError, ... for what it cannot store
        raise TypeError(f"this model cannot be written as a model file: {type(exc).__name__}: {exc}") from exc
    buffer = io.BytesIO(data)
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr(_HEADER, json.dumps(_header()))
    _write_bytes(path, buffer.getvalue())


def _write_bytes(path, data):
    if hasattr(path, "write"):
        path.write(data)
    else:
        with open(path, "wb") as f:
            f.write(data)


def _header():
    return {"format": _FORMAT, "format_version": FORMAT_VERSION, "sksurv_camlif": __version__,
            "scikit-learn": sklearn.__version__, "scikit-survival": sksurv.__version__,
            "torch": torch.__version__, "numpy": np.__version__, "skops": skops.__version__}


def _describe(est):
    """The fitted model as containers, arrays, scalars and scikit-learn-style objects."""
    fitted = {name: est.__dict__[name] for name in _PLAIN_ATTRIBUTES if name in est.__dict__}
    baseline = est._baseline_model
    return {
        "params": est.get_params(deep=False),
        "fitted": fitted,
        "blocks": [_block(b) for b in est._blocks],
        "clinical_block": None if est._clinical_block is None else _block(est._clinical_block),
        "offset": _offset(est.offset_),
        "network": est._network_kwargs(est._blocks, est._clinical_block) if est.members_ else None,
        "members": [_weights(m) for m in est.members_],
        "device": str(est.device_),
        "baseline": {"unique_times": baseline.unique_times_,
                     **{name: _step_function(getattr(baseline, name)) for name in _STEP_FUNCTIONS}},
        "histories": [dataclasses.asdict(h) for h in est.histories_],
    }


def _block(block):
    return {field.name: getattr(block, field.name) for field in dataclasses.fields(block)}


def _weights(module):
    """A member's state dict as CPU numpy arrays, bit for bit."""
    out = {}
    for name, value in module.state_dict().items():
        if value.dtype not in (torch.float32, torch.float64, torch.int64, torch.bool):
            raise TypeError(f"weight {name!r} has dtype {value.dtype}, which a model file does not store")
        out[name] = value.detach().to("cpu", copy=True).numpy()
    return out


def _offset(offset):
    """The fitted offset, its spline bases (:class:`~sksurv_camlif.protocol.splines.SplineBasis`)
    apart as arrays: stored as objects, their SplineTransformers' scipy BSplines would need
    scipy's BSpline and a private scipy function trusted."""
    if offset is None:
        return None
    bases = {name: value for name, value in vars(offset).items() if isinstance(value, SplineBasis)}
    rest = copy.copy(offset)
    for name in bases:
        setattr(rest, name, None)
    return {"object": rest, "spline_bases": {name: _spline_basis(b) for name, b in bases.items()}}


def _spline_basis(basis):
    state = {field.name: getattr(basis, field.name) for field in dataclasses.fields(basis)}
    state["transformers"] = [
        {**{k: v for k, v in vars(t).items() if k != "bsplines_"},
         "bsplines_": [{"t": b.t, "c": b.c, "k": b.k, "extrapolate": b.extrapolate, "axis": b.axis}
                       for b in t.bsplines_]}
        for t in basis.transformers
    ]
    return state


def _step_function(fn):
    return {"x": fn.x, "y": fn.y, "a": fn.a, "b": fn.b, "domain": fn.domain}


# -- reading ---------------------------------------------------------------------------------
def untrusted_types(path):
    """The types in the model file ``path`` that neither skops nor this package trusts.

    Nothing in the file is built. Pass those you trust (e.g. your own transformer class) to
    :func:`load` as ``trusted``.

    Parameters
    ----------
    path : str, path-like or binary file object

    Returns
    -------
    list of str
        Fully qualified type names, e.g. ``"mypackage.MyTransformer"``.
    """
    return _untrusted(_read_checked(path)[0])


def _untrusted(data):
    return [name for name in sio.get_untrusted_types(data=data) if name not in TRUSTED_TYPES]


def load(path, *, trusted=None):
    """Read a model file written by :meth:`CAMLIFSurvival.save <sksurv_camlif.CAMLIFSurvival.save>`.

    No code from the file runs: the file is a description that this package's code turns
    back into the model, and every type it names must be trusted before anything is built.

    Parameters
    ----------
    path : str, path-like or binary file object
    trusted : list of str or type, default=None
        Types the file may hold beyond those trusted by default (scikit-learn's estimators,
        numpy, Python's containers, :data:`TRUSTED_TYPES`), e.g. your own transformer
        class in a block; :func:`untrusted_types` lists the candidates.

    Returns
    -------
    CAMLIFSurvival
        On the device it was fitted on where this machine has it, else on the CPU (with a
        ``UserWarning``).

    Raises
    ------
    ModelFileError
        Not a model file (a pickle or joblib file, another skops file), or one of another
        format version.
    UntrustedTypesError
        The file holds a type that is not trusted; the message names it.

    Warns
    -----
    UserWarning
        The file was written by another version of sksurv_camlif.
    """
    data, _ = _read_checked(path)
    if isinstance(trusted, (str, type)):  # one type, not the characters of its name
        trusted = [trusted]
    allowed = list(TRUSTED_TYPES) + [_type_name(t) for t in (trusted or ())]
    unknown = [name for name in _untrusted(data) if name not in allowed]
    if unknown:
        raise UntrustedTypesError(
            f"the model file holds type(s) that are not trusted: {', '.join(unknown)}. Loading would "
            "build them; if you trust them (e.g. your own transformer), pass them as trusted=[...]",
            unknown,
        )
    try:
        return _rebuild(sio.loads(data, trusted=allowed))
    except Exception as exc:  # e.g. an array replaced by a pickled one: numpy refuses to unpickle it
        raise ModelFileError(f"{_name(path)} cannot be read (damaged or altered?): {type(exc).__name__}: {exc}") from exc


def _read_checked(path):
    """The file's bytes and header, after the format checks (nothing is built)."""
    if hasattr(path, "read"):
        data = path.read()
    else:
        with open(os.fspath(path), "rb") as f:
            data = f.read()
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise ModelFileError(
            f"{_name(path)} is not a sksurv-camlif model file (a pickle or joblib file? reading one "
            "runs code chosen by whoever wrote it: use joblib.load only on files you trust)"
        )
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        try:
            header = json.loads(archive.read(_HEADER))
        except (KeyError, ValueError) as exc:
            raise ModelFileError(f"{_name(path)} is a zip file but not a sksurv-camlif model file") from exc
    if not isinstance(header, dict) or header.get("format") != _FORMAT:
        raise ModelFileError(f"{_name(path)} is not a sksurv-camlif model file")
    _check_versions(header)
    return data, header


def _check_versions(header):
    """The version rule: the same format version loads (with a warning where another
    package version wrote it); another format version is refused."""
    written = header.get("sksurv_camlif")
    if header.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"this model file has format version {header.get('format_version')!r} (written by sksurv_camlif "
            f"{written}); sksurv_camlif {__version__} reads format version {FORMAT_VERSION}. Load it with the "
            "version that wrote it, or refit the model"
        )
    if written != __version__:
        warnings.warn(
            f"this model file was written by sksurv_camlif {written}; this is {__version__}. Its format is the "
            "same, but predictions may differ where the package changed: compare them, or refit",
            UserWarning,
            stacklevel=4,
        )


def _name(path):
    return repr(os.fspath(path)) if isinstance(path, (str, os.PathLike)) else "the file"


def _rebuild(document):
    """The CAMLIFSurvival a :func:`_describe` document describes, built with this package's code."""
    est = CAMLIFSurvival(**document["params"])
    est.__dict__.update(document["fitted"])
    est._blocks = [FittedBlock(**b) for b in document["blocks"]]
    clinical = document["clinical_block"]
    est._clinical_block = None if clinical is None else FittedBlock(**clinical)
    est.offset_ = _rebuild_offset(document["offset"])
    device = restore_device(document["device"])
    members = []
    for weights in document["members"]:
        module = CAMLIFNet(**document["network"])
        module.load_state_dict({name: torch.from_numpy(np.array(value)) for name, value in weights.items()})
        members.append(module.to(device).eval())
    est.members_, est.module_, est.device_ = members, members[0] if members else None, device
    baseline = BreslowEstimator()
    baseline.unique_times_ = document["baseline"]["unique_times"]
    for name in _STEP_FUNCTIONS:
        fn = document["baseline"][name]
        setattr(baseline, name, StepFunction(fn["x"], fn["y"], a=fn["a"], b=fn["b"], domain=fn["domain"]))
    est._baseline_model = baseline
    est.unique_times_ = baseline.unique_times_
    est.cum_baseline_hazard_, est.baseline_survival_ = baseline.cum_baseline_hazard_, baseline.baseline_survival_
    est.histories_ = [History(**h) for h in document["histories"]]
    return est


def _rebuild_offset(described):
    if described is None:
        return None
    offset = described["object"]
    for name, state in described["spline_bases"].items():
        setattr(offset, name, _rebuild_spline_basis(state))
    return offset


def _rebuild_spline_basis(state):
    transformers = []
    for fitted in state["transformers"]:
        t = SplineTransformer.__new__(SplineTransformer)
        t.__dict__.update({k: v for k, v in fitted.items() if k != "bsplines_"})
        # construct_fast: the knots and coefficients as stored, no axis moved twice
        t.bsplines_ = [BSpline.construct_fast(b["t"], b["c"], b["k"], extrapolate=b["extrapolate"], axis=b["axis"])
                       for b in fitted["bsplines_"]]
        transformers.append(t)
    return SplineBasis(**{**state, "transformers": transformers})

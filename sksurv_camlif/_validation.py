"""The estimator's checks of X and y: the errors a scikit-survival user expects, each
naming the problem."""

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils.validation import validate_data
from sksurv.util import check_array_survival

__all__ = ["check_X", "check_survival_y"]


def _from_polars(X, estimator):
    """A polars DataFrame as a pandas one (column by column: no pyarrow needed); a
    LazyFrame is refused, as scikit-survival refuses it."""
    if type(X).__name__ == "LazyFrame":
        raise TypeError(
            f"{type(estimator).__name__} got a polars LazyFrame; call .collect() to pass a polars DataFrame"
        )
    return pd.DataFrame({name: X.get_column(name).to_numpy() for name in X.columns})


def check_X(estimator, X, reset):
    """X as given (a pandas DataFrame stays one, a polars DataFrame becomes one), checked;
    ``n_features_in_`` and ``feature_names_in_`` set (``reset``) or compared with the
    fitted ones."""
    if type(X).__module__.split(".")[0] == "polars":
        X = _from_polars(X, estimator)
    if sp.issparse(X):
        raise TypeError(f"{type(estimator).__name__} does not support sparse input X; convert it with X.toarray()")
    if not hasattr(X, "iloc"):
        X = np.asarray(X)
        if X.ndim == 1:
            raise ValueError(
                f"Expected 2D array, got 1D array instead:\narray={X!r}.\nReshape your data "
                "either using array.reshape(-1, 1) if your data has a single feature or "
                "array.reshape(1, -1) if it contains a single sample."
            )
        if X.ndim != 2:
            raise ValueError(f"Expected 2D array, got an array of shape {X.shape} instead")
        if np.iscomplexobj(X):
            raise ValueError("Complex data not supported")
    X = validate_data(estimator, X, reset=reset, skip_check_array=True)
    if X.shape[0] == 0:
        raise ValueError("X has 0 samples; at least 1 is required")
    return X


def check_survival_y(X, y):
    """The event (bool) and time (float64) arrays of a structured survival ``y``."""
    try:
        event, time = check_array_survival(X, y)
    except (ValueError, TypeError) as exc:
        if "censored" in str(exc):  # a valid y that cannot be fitted: say only that
            raise ValueError(f"y: {exc}") from exc
        raise ValueError(
            "y must be a structured array with a boolean event field and a numeric, "
            "finite time field, e.g. from sksurv.util.Surv.from_arrays; the time field "
            f"or event field failed the check: {exc}"
        ) from exc
    if X.shape[0] < 2:
        raise ValueError(f"at least 2 samples are required to fit, got {X.shape[0]}")
    return np.ascontiguousarray(event, dtype=bool), np.ascontiguousarray(time, dtype=np.float64)

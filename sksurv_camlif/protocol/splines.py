"""Additive curves for the linear offset: a cubic B-spline basis of the numeric clinical columns.

A Cox model linear in age cannot bend where the hazard does (e.g. the youngest and the
oldest breast-cancer patients both at higher risk). Adding, for each numeric clinical column
x_j, the cubic B-splines B_1(x_j) .. B_m(x_j) on knots at its training quantiles lets the
elastic-net offset fit ``sum_j g_j(x_j)`` with smooth g_j, still a penalised linear model in
the basis (so its inner CV, cross-fitting and coefficients work unchanged). Columns with
fewer than three distinct knots (binary, one-hot, a few levels) keep only their linear term.

The basis columns are standardised on the training data, as every other column of the
offset's design, so that the elastic net penalises them alike.
"""

from dataclasses import dataclass

import numpy as np
from sklearn.preprocessing import SplineTransformer

__all__ = ["SplineBasis", "fit_spline_basis"]


@dataclass
class SplineBasis:
    """A fitted basis: for each of ``columns`` (positions in the clinical block), a
    :class:`~sklearn.preprocessing.SplineTransformer`; outputs standardised."""

    columns: list
    transformers: list
    mean: np.ndarray
    scale: np.ndarray
    names: list

    @property
    def n_outputs(self):
        return len(self.names)

    def transform(self, clin):
        """Standardised basis of the clinical block ``clin`` (n, p): shape (n, n_outputs)."""
        return (_raw_basis(clin, self.columns, self.transformers) - self.mean) / self.scale


def _raw_basis(clin, columns, transformers):
    """The unstandardised splines of ``columns`` side by side: shape (n, sum of outputs)."""
    if not columns:
        return np.empty((clin.shape[0], 0))
    return np.concatenate([t.transform(clin[:, [j]]) for j, t in zip(columns, transformers)], axis=1)


def fit_spline_basis(clin, names, n_knots):
    """The basis of each clinical column with at least three distinct quantile knots.

    Knots at ``n_knots`` evenly spaced quantiles of the column (duplicates dropped, so a
    column with many ties gets fewer), cubic, linear beyond the boundary knots, without
    the constant function (the Cox model has none): ``n_knots + 1`` columns per curve with
    all knots distinct.

    Parameters
    ----------
    clin : ndarray, shape (n, p)
        The clinical block's (standardised) training outputs, free of NaN.
    names : list of str, length p
    n_knots : int >= 3

    Returns
    -------
    SplineBasis
    """
    columns, transformers, out_names = [], [], []
    for j in range(clin.shape[1]):
        knots = np.unique(np.quantile(clin[:, j], np.linspace(0, 1, n_knots)))
        if len(knots) < 3:
            continue
        t = SplineTransformer(knots=knots[:, None], degree=3, extrapolation="linear", include_bias=False)
        t.fit(clin[:, [j]])
        columns.append(j)
        transformers.append(t)
        out_names += [f"{names[j]}__spline{i}" for i in range(t.n_features_out_)]
    B = _raw_basis(clin, columns, transformers)
    scale = B.std(axis=0)
    return SplineBasis(columns, transformers, B.mean(axis=0), np.where(scale > 0, scale, 1.0), out_names)

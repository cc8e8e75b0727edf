"""The modality specification: named feature blocks, ColumnTransformer-style.

``modalities=[(name, transformer, columns), ...]`` and ``clinical=columns`` or
``(transformer, columns)``. Columns take every form ColumnTransformer accepts: a name, a list
of names, an int, a list of ints, a slice, a boolean mask or a callable such as
:func:`~sklearn.compose.make_column_selector`.

A patient whose every column of a block is missing (NaN) has that modality *absent*: the
block's transformer is fitted on, and applied to, the present rows only, and the network
receives a presence mask.
"""

from dataclasses import dataclass, field
from numbers import Integral
from typing import List, NamedTuple, Optional

import numpy as np
import pandas as pd
from sklearn.base import clone

__all__ = ["BlockSpec", "FittedBlock", "BlockOutputs", "parse_spec", "resolve_columns", "fit_blocks", "block_outputs"]

_SPECIAL = ("passthrough", "drop")


@dataclass
class BlockSpec:
    name: str
    transformer: object
    columns: object
    is_clinical: bool = False


@dataclass
class FittedBlock:
    """A block's resolved input columns, fitted transformer and standardisation."""

    name: str
    columns: np.ndarray  # integer positions in X
    transformer: object  # fitted transformer, or "passthrough"
    mean: np.ndarray
    scale: np.ndarray
    is_clinical: bool = False
    groups: list = field(default=None)

    @property
    def n_outputs(self):
        return self.mean.shape[0]

    def present(self, X):
        return ~_block_missing(_take(X, self.columns))

    def feature_names_out(self, feature_names=None):
        """Names of the block's outputs, prefixed ``"<block>__"``.

        From the transformer's ``get_feature_names_out`` where it has one, else the input
        column names (passthrough) or ``x<position>``.
        """
        inputs = (
            np.asarray(feature_names, dtype=object)[self.columns]
            if feature_names is not None
            else np.array([f"x{j}" for j in self.columns], dtype=object)
        )
        names = None
        if isinstance(self.transformer, str):
            names = inputs
        elif hasattr(self.transformer, "get_feature_names_out"):
            try:
                names = np.asarray(self.transformer.get_feature_names_out(inputs), dtype=object)
            except (AttributeError, ValueError, TypeError):
                names = None
        if names is None or len(names) != self.n_outputs:
            names = [f"x{i}" for i in range(self.n_outputs)]
        prefix = "clinical" if self.is_clinical else self.name
        return np.array([f"{prefix}__{n}" for n in names], dtype=object)

    def transform(self, X, present=None):
        """Return float32 (n, n_outputs) standardised values; absent rows hold NaN."""
        sub = _take(X, self.columns)
        if present is None:
            present = ~_block_missing(sub) if not self.is_clinical else np.ones(len(sub), bool)
        out = np.full((len(sub), self.n_outputs), np.nan, dtype=np.float32)
        if present.any():
            values = _apply(self.transformer, _rows(sub, present), self.name, fit=False)
            if values.shape[1] != self.n_outputs:
                raise ValueError(
                    f"modality {self.name!r}: its transformer produced {values.shape[1]} "
                    f"features, {self.n_outputs} at fit time"
                )
            _check_finite(values, self.name, self.is_clinical)
            out[present] = (values - self.mean) / self.scale
        return out


def _take(X, idx):
    return X.iloc[:, idx] if hasattr(X, "iloc") else X[:, idx]


def _rows(sub, mask):
    return sub.iloc[mask] if hasattr(sub, "iloc") else sub[mask]


def _block_missing(sub):
    """Rows in which every column of the block is missing."""
    if sub.shape[1] == 0:
        return np.zeros(sub.shape[0], bool)
    return np.asarray(pd.isna(pd.DataFrame(sub)).all(axis=1))


def _apply(transformer, sub, name, fit):
    if isinstance(transformer, str) and transformer == "passthrough":
        values = sub
    elif fit:
        values = transformer.fit_transform(sub)
    else:
        values = transformer.transform(sub)
    if hasattr(values, "toarray"):
        values = values.toarray()
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        kind = "columns" if isinstance(transformer, str) else "transformer output"
        bad = ""
        if hasattr(values, "dtypes"):
            bad = [str(c) for c, t in values.dtypes.items() if not pd.api.types.is_numeric_dtype(t)]
            bad = f" (non-numeric: {bad})"
        raise ValueError(
            f"modality {name!r}: {kind} must be numeric{bad}; give the block an encoder, "
            "e.g. OneHotEncoder(handle_unknown='ignore')"
        ) from exc


def _check_finite(values, name, is_clinical):
    if not np.isfinite(values).all():
        rows = np.flatnonzero(~np.isfinite(values).all(axis=1))
        what = "the clinical block" if is_clinical else f"modality {name!r}"
        raise ValueError(
            f"{what} holds NaN or inf in {len(rows)} row(s) (first: {rows[:5].tolist()}) "
            "after its transformer. Rows with the whole block missing are treated as an "
            "absent modality; partial gaps need an imputer in the block's transformer, "
            "e.g. make_pipeline(SimpleImputer(), StandardScaler())."
        )


def parse_spec(modalities, clinical):
    """Check the shape of the spec and return a list of :class:`BlockSpec`."""
    if not isinstance(modalities, (list, tuple)) or len(modalities) == 0:
        raise ValueError(
            "modalities must be a non-empty list of (name, transformer, columns) tuples, "
            f"got {modalities!r}"
        )
    specs, seen = [], set()
    for i, entry in enumerate(modalities):
        if not isinstance(entry, (list, tuple)) or len(entry) != 3:
            raise ValueError(
                f"modalities[{i}] must be a (name, transformer, columns) tuple, got {entry!r}"
            )
        name, transformer, columns = entry
        if not isinstance(name, str) or not name:
            raise ValueError(f"modalities[{i}]: the name must be a non-empty string, got {name!r}")
        if name in seen:
            raise ValueError(f"modalities: the name {name!r} is used twice; names must be unique")
        if "__" in name:
            raise ValueError(f"modalities: the name {name!r} must not contain '__'")
        seen.add(name)
        _check_transformer(transformer, f"modality {name!r}")
        if isinstance(transformer, str) and transformer == "drop":
            continue
        specs.append(BlockSpec(name, transformer, columns))
    if not specs:
        raise ValueError("modalities: every block is 'drop'; at least one block is needed")
    if clinical is not None:
        if isinstance(clinical, tuple) and len(clinical) == 2 and _is_transformer(clinical[0]):
            transformer, columns = clinical
        else:
            transformer, columns = "passthrough", clinical
        _check_transformer(transformer, "clinical")
        if not (isinstance(transformer, str) and transformer == "drop"):
            specs.append(BlockSpec("clinical", transformer, columns, is_clinical=True))
    return specs


def _is_transformer(obj):
    if isinstance(obj, str):
        return obj in _SPECIAL
    return hasattr(obj, "fit") and hasattr(obj, "transform")


def _check_transformer(transformer, what):
    if isinstance(transformer, type):
        raise TypeError(
            f"{what}: the transformer must be an instance, got the class {transformer.__name__}; "
            f"write {transformer.__name__}() instead"
        )
    if not _is_transformer(transformer):
        raise TypeError(
            f"{what}: the transformer must be 'passthrough', 'drop' or implement fit and "
            f"transform, got {transformer!r}"
        )


def resolve_columns(X, columns, feature_names, what):
    """Integer positions of ``columns`` in X, with ColumnTransformer's rules."""
    n = X.shape[1]
    if callable(columns):
        columns = columns(X)
    if isinstance(columns, slice):
        if isinstance(columns.start, str) or isinstance(columns.stop, str):
            names = _need_names(feature_names, what)
            start = 0 if columns.start is None else _name_pos(names, columns.start, what)
            stop = n if columns.stop is None else _name_pos(names, columns.stop, what) + 1
            idx = np.arange(start, stop)[:: columns.step or 1]
        else:
            idx = np.arange(n)[columns]
    else:
        if isinstance(columns, (str, Integral)) and not isinstance(columns, bool):
            columns = [columns]
        arr = np.asarray(list(columns) if not isinstance(columns, np.ndarray) else columns)
        if arr.size == 0:
            idx = np.array([], dtype=int)
        elif arr.dtype == bool:
            if arr.shape != (n,):
                raise ValueError(f"{what}: a boolean column mask needs {n} entries, got {arr.shape}")
            idx = np.flatnonzero(arr)
        elif np.issubdtype(arr.dtype, np.integer):
            bad = arr[(arr < -n) | (arr >= n)]
            if bad.size:
                raise ValueError(f"{what}: column index {bad[0]} is out of range for {n} columns")
            idx = np.where(arr < 0, arr + n, arr)
        else:
            names = _need_names(feature_names, what)
            idx = np.array([_name_pos(names, c, what) for c in arr.tolist()], dtype=int)
    idx = np.asarray(idx, dtype=int)
    if idx.size == 0:
        raise ValueError(f"{what} selects no column")
    if len(np.unique(idx)) != len(idx):
        raise ValueError(f"{what} selects the same column more than once")
    return idx


def _need_names(feature_names, what):
    if feature_names is None:
        raise ValueError(
            f"{what}: columns given by name need X as a pandas DataFrame with those columns"
        )
    return feature_names


def _name_pos(names, name, what):
    pos = np.flatnonzero(names == name)
    if pos.size == 0:
        raise ValueError(f"{what}: column {name!r} is not in X")
    return int(pos[0])


def fit_blocks(X, specs, feature_names):
    """Resolve and fit every block on X, as ``ColumnTransformer.fit_transform`` does.

    Returns
    -------
    modal : list of FittedBlock
    clinical : FittedBlock or None
    outputs : list of ndarray
        The standardised training outputs of ``modal`` then ``clinical`` (what
        ``block.transform(X)`` would return: float32, NaN rows where absent), so that the
        training data go through the transformers once.

    Blocks may not overlap: a column belongs to one block (clear provenance of each
    feature; it also keeps the absent-modality rule unambiguous).
    """
    owner = {}
    fitted, outputs = [], []
    for spec in specs:
        what = "clinical" if spec.is_clinical else f"modality {spec.name!r}"
        idx = resolve_columns(X, spec.columns, feature_names, what)
        for j in idx:
            if j in owner:
                col = feature_names[j] if feature_names is not None else j
                raise ValueError(
                    f"column {col!r} is in both {owner[j]} and {what}; blocks must not overlap"
                )
            owner[j] = what
        sub = _take(X, idx)
        if spec.is_clinical:
            present = np.ones(len(sub), bool)
        else:
            present = ~_block_missing(sub)
            if not present.any():
                raise ValueError(f"{what}: every value is missing in the training data")
        transformer = spec.transformer
        if not isinstance(transformer, str):
            transformer = clone(transformer)
        values = _apply(transformer, _rows(sub, present), spec.name, fit=True)
        if values.ndim != 2 or values.shape[1] == 0:
            raise ValueError(f"{what}: its transformer produced no feature")
        _check_finite(values, spec.name, spec.is_clinical)
        mean = values.mean(axis=0)
        scale = values.std(axis=0)
        scale[scale < 1e-12] = 1.0
        fitted.append(
            FittedBlock(spec.name, idx, transformer, mean, scale, is_clinical=spec.is_clinical)
        )
        out = np.full((len(sub), values.shape[1]), np.nan, dtype=np.float32)
        out[present] = (values - mean) / scale  # as FittedBlock.transform
        outputs.append(out)
    # parse_spec puts the clinical block last
    modal = [b for b in fitted if not b.is_clinical]
    clinical = next((b for b in fitted if b.is_clinical), None)
    return modal, clinical, outputs


def resolve_token_groups(blocks, token_groups, feature_names):
    """Attach explicit token groups (positions in each block's output) to the blocks."""
    if token_groups is None:
        return
    if not isinstance(token_groups, dict):
        raise ValueError(
            f"token_groups must be a dict {{modality name: list of column groups}}, "
            f"got {type(token_groups).__name__}"
        )
    by_name = {b.name: b for b in blocks}
    for name, groups in token_groups.items():
        if name not in by_name:
            raise ValueError(
                f"token_groups: {name!r} is not a modality; modalities are {sorted(by_name)}"
            )
        block = by_name[name]
        if not isinstance(groups, (list, tuple)) or not groups:
            raise ValueError(f"token_groups[{name!r}] must be a non-empty list of column groups")
        resolved = []
        for k, group in enumerate(groups):
            group = [group] if isinstance(group, (str, Integral)) else list(group)
            if not group:
                raise ValueError(f"token_groups[{name!r}][{k}] is empty")
            pos = []
            for col in group:
                if isinstance(col, Integral) and not isinstance(col, bool):
                    if not 0 <= col < block.n_outputs:
                        raise ValueError(
                            f"token_groups[{name!r}][{k}]: position {col} is out of range for "
                            f"the block's {block.n_outputs} features"
                        )
                    pos.append(int(col))
                else:
                    if block.n_outputs != len(block.columns):
                        raise ValueError(
                            f"token_groups[{name!r}]: groups by column name need a transformer "
                            "that keeps one output per input column; give output positions "
                            "instead"
                        )
                    names = [feature_names[j] if feature_names is not None else j for j in block.columns]
                    if col not in names:
                        raise ValueError(
                            f"token_groups[{name!r}][{k}]: column {col!r} is not in modality "
                            f"{name!r}"
                        )
                    pos.append(names.index(col))
            resolved.append(pos)
        block.groups = resolved


class BlockOutputs(NamedTuple):
    """The fitted blocks' outputs on X: what the offset and the networks see.

    Attributes
    ----------
    modalities : list of ndarray, float32, shape (n, p_m)
        Standardised outputs of each modality block; NaN rows where the modality is absent.
    present : ndarray of bool, shape (n, M)
    clinical : ndarray, shape (n, p_c), or None
    names : list of str
        The modalities' names.
    feature_names : list of ndarray of str, or None
        Names of every block's outputs (the modalities, then the clinical block); given at
        fit time only.
    """

    modalities: List[np.ndarray]
    present: np.ndarray
    clinical: Optional[np.ndarray]
    names: List[str]
    feature_names: Optional[list] = None


def block_outputs(X, blocks, clinical, outputs=None, feature_names=None, named=False):
    """X through the fitted ``blocks`` and ``clinical`` block, as :class:`BlockOutputs`.

    ``outputs``: the blocks' outputs on X already computed by :func:`fit_blocks` (X is then
    not transformed again); ``named``: also name every output (for fitting the offset),
    from ``feature_names``, the estimator's ``feature_names_in_`` or None.
    """
    if outputs is None:
        present = np.stack([b.present(X) for b in blocks], axis=1)
        arrays = [b.transform(X, present[:, m]) for m, b in enumerate(blocks)]
        clin = clinical.transform(X) if clinical is not None else None
    else:
        arrays = outputs[: len(blocks)]
        present = np.stack([~np.isnan(a).all(axis=1) for a in arrays], axis=1)
        clin = outputs[len(blocks)] if clinical is not None else None
    if clinical is None and not present.any(axis=1).all():
        rows = np.flatnonzero(~present.any(axis=1))
        raise ValueError(
            f"{len(rows)} sample(s) (first: {rows[:5].tolist()}) have every modality "
            "missing and there is no clinical block: nothing to predict from"
        )
    names = None
    if named:
        parts = blocks + ([clinical] if clinical is not None else [])
        names = [b.feature_names_out(feature_names) for b in parts]
    return BlockOutputs(arrays, present, clin, [b.name for b in blocks], names)

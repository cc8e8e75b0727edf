"""The TOML spec of the command line: its keys and their checks, the estimator it builds,
and the columns that estimator uses (``docs/cli.md`` lists every key)."""

import re
import tomllib

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from .estimator import CAMLIFSurvival

__all__ = ["CLIError", "read_spec", "build_estimator", "model_columns"]


class CLIError(Exception):
    """A problem with the user's files or options, reported without a traceback."""


SPEC_KEYS = {"estimator", "modalities", "clinical"}
MODALITY_KEYS = {"name", "columns", "pattern", "numeric", "categorical", "impute", "scale"}
CLINICAL_KEYS = {"numeric", "categorical"}
_LIST_KEYS = ("columns", "numeric", "categorical")


def read_spec(path):
    """The TOML spec, its keys and their types checked.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    dict
        The parsed spec.

    Raises
    ------
    CLIError
        An unreadable file, an unknown key, a wrong type, a block without columns or two
        blocks of the same name.
    """
    try:
        with open(path, "rb") as f:
            spec = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CLIError(f"cannot read the spec {path}: {exc}") from exc
    _check_keys(spec, SPEC_KEYS, "spec")
    if not spec.get("modalities"):
        raise CLIError("spec: at least one [[modalities]] table is needed")
    if not isinstance(spec["modalities"], list):
        raise CLIError("spec: modalities must be written [[modalities]] (an array of tables)")
    seen = set()
    for i, block in enumerate(spec["modalities"]):
        _check_keys(block, MODALITY_KEYS, f"spec: modalities[{i}]")
        if not isinstance(block.get("name"), str) or not block["name"]:
            raise CLIError(f"spec: modalities[{i}] needs a name (a string)")
        where = f"spec: modality {block['name']!r}"
        if block["name"] in seen:
            raise CLIError(f"{where}: two blocks have this name")
        seen.add(block["name"])
        _check_lists(block, _LIST_KEYS, where)
        if not any(k in block for k in (*_LIST_KEYS, "pattern")):
            raise CLIError(f"{where} needs columns, numeric, categorical or a pattern")
        if "pattern" in block and not isinstance(block["pattern"], str):
            raise CLIError(f"{where}: pattern must be a string (a regular expression)")
        if block.get("impute", "mean") not in ("mean", "median", "none"):
            raise CLIError(f"{where}: impute must be mean, median or none")
        if not isinstance(block.get("scale", True), bool):
            raise CLIError(f"{where}: scale must be true or false")
    _check_keys(spec.get("clinical", {}), CLINICAL_KEYS, "spec: clinical")
    _check_lists(spec.get("clinical", {}), CLINICAL_KEYS, "spec: clinical")
    return spec


def _check_keys(table, allowed, where):
    if not isinstance(table, dict):
        raise CLIError(f"{where} must be a table")
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise CLIError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")


def _check_lists(table, keys, where):
    for key in keys:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
            raise CLIError(f'{where}: {key} must be a list of column names, e.g. {key} = ["a", "b"]')


def _block_columns(block, names):
    """The block's numeric and categorical columns among ``names``.

    Numeric: ``columns``, then ``numeric``, then the ``pattern``'s matches in table order;
    a column listed under ``categorical`` is never numeric, so that a pattern may match it.
    """
    where = f"modality {block['name']!r}"
    numeric, categorical = _listed(block.get("columns", []) + block.get("numeric", []),
                                   block.get("categorical", []), names, where)
    if "pattern" in block:
        try:
            regex = re.compile(block["pattern"])
        except re.error as exc:
            raise CLIError(f"{where}: bad pattern: {exc}") from exc
        numeric += [c for c in names if regex.search(c) and c not in numeric and c not in categorical]
    if not numeric and not categorical:
        raise CLIError(f"{where}: no column of the data matches")
    return numeric, categorical


def _listed(numeric, categorical, names, where):
    """The listed numeric and categorical columns (each once), checked against the data."""
    numeric, categorical = list(dict.fromkeys(numeric)), list(dict.fromkeys(categorical))
    both = [c for c in numeric if c in categorical]
    if both:
        raise CLIError(f"{where}: column(s) {both} are listed as both numeric and categorical")
    missing = [c for c in numeric + categorical if c not in names]
    if missing:
        raise CLIError(f"{where}: column(s) {missing} are not in the data")
    return numeric, categorical


def _numeric_transformer(block):
    steps = []
    if block.get("impute", "mean") != "none":
        steps.append(SimpleImputer(strategy=block.get("impute", "mean")))
    if block.get("scale", True):
        steps.append(StandardScaler())
    return make_pipeline(*steps) if steps else "passthrough"


def _block_transformer(block, numeric, categorical):
    """The block's transformer: numeric columns as ``impute``/``scale`` say; categorical
    ones most-frequent imputed, then one-hot (an unseen level: all zeros)."""
    if not categorical:
        return _numeric_transformer(block)  # the transformer of a numeric-only block as before
    parts = []
    if numeric:
        parts.append(("num", _numeric_transformer(block), numeric))
    parts.append(("cat", make_pipeline(
        SimpleImputer(strategy="most_frequent"),
        OneHotEncoder(handle_unknown="ignore", sparse_output=False),
    ), categorical))
    return ColumnTransformer(parts)


def _clinical(spec, names):
    clinical = spec.get("clinical")
    if not clinical:
        return None, [], []
    numeric, categorical = _listed(clinical.get("numeric", []), clinical.get("categorical", []), names, "clinical")
    parts = []
    if numeric:
        parts.append(("num", make_pipeline(SimpleImputer(), StandardScaler()), numeric))
    if categorical:
        parts.append(("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical))
    return (ColumnTransformer(parts), numeric + categorical), numeric, categorical


def _parts(spec, names):
    """``(where, numeric, categorical)`` of every block of the spec, then of the clinical
    block; a column in two of them is an error."""
    parts = [(f"modality {b['name']!r}", *_block_columns(b, names)) for b in spec["modalities"]]
    _, numeric, categorical = _clinical(spec, names)
    if numeric or categorical:
        parts.append(("clinical", numeric, categorical))
    owner = {}
    for where, numeric, categorical in parts:
        for c in numeric + categorical:
            if c in owner:
                raise CLIError(f"column {c!r} is in both {owner[c]} and {where}; a column "
                               "belongs to one block")
            owner[c] = where
    return parts


def build_estimator(spec, names):
    """The unfitted CAMLIFSurvival of ``spec`` for a table with columns ``names``.

    Parameters
    ----------
    spec : dict
        From :func:`read_spec`.
    names : list of str
        The table's feature columns.

    Returns
    -------
    CAMLIFSurvival
        Its blocks select columns by name; :func:`model_columns` lists them.
    """
    _parts(spec, names)  # resolves every block, checks for overlaps
    modalities = []
    for block in spec["modalities"]:
        numeric, categorical = _block_columns(block, names)
        modalities.append((block["name"], _block_transformer(block, numeric, categorical),
                           numeric + categorical))
    clinical, _, _ = _clinical(spec, names)
    est = CAMLIFSurvival(modalities, clinical=clinical)
    params = spec.get("estimator", {})
    if not isinstance(params, dict):
        raise CLIError("spec: estimator must be a table ([estimator])")
    unknown = sorted(set(params) - set(est.get_params(deep=False)))
    if unknown:
        raise CLIError(f"spec: [estimator] has unknown parameter(s) {unknown}")
    blocks = sorted({"modalities", "clinical"} & set(params))
    if blocks:
        raise CLIError(f"spec: [estimator] cannot set {blocks}: the [[modalities]] and [clinical] "
                       "tables do")
    return est.set_params(**params)


def model_columns(est):
    """The columns ``est`` uses, in the order of its spec: every block's, then the clinical
    block's."""
    cols = [c for _, _, block_cols in est.modalities for c in block_cols]
    if est.clinical is not None:
        cols += list(est.clinical[1])
    return list(dict.fromkeys(cols))


def _numeric_parts(est):
    """``(where, columns)`` of the parts of a CLI-built model that must hold numbers."""
    parts = []
    blocks = [(f"modality {n!r}", t, cols) for n, t, cols in est.modalities]
    if isinstance(est.clinical, tuple) and len(est.clinical) == 2:
        blocks.append(("clinical", *est.clinical))
    for where, transformer, cols in blocks:
        if isinstance(transformer, ColumnTransformer):
            parts += [(where, list(c)) for name, _, c in transformer.transformers if name == "num"]
        elif isinstance(transformer, str) or (
            isinstance(transformer, Pipeline)
            and all(isinstance(s, (SimpleImputer, StandardScaler)) for _, s in transformer.steps)
            and all(getattr(s, "strategy", "mean") in ("mean", "median") for _, s in transformer.steps)
        ):
            parts.append((where, list(cols)))
    return parts


def _check_numeric(X, parts):
    """A CLIError naming the block and the columns of a numeric part that hold text."""
    for where, cols in parts:
        bad = [c for c in cols if c in X.columns and not (
            pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]))]
        if bad:
            values = X[bad[0]].dropna()
            example = values[pd.to_numeric(values, errors="coerce").isna()]
            example = f" (e.g. {example.iloc[0]!r} in {bad[0]!r})" if len(example) else ""
            fix = ("move them from numeric to categorical" if where == "clinical"
                   else "list them under categorical in that block")
            raise CLIError(f"{where}: column(s) {bad} hold text{example}, not numbers; {fix}")

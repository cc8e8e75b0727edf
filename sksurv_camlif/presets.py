"""Ready-made estimators and baselines, in one place: the demo, the benchmarks, the
examples and the tests build exactly these models.

- :func:`default_gbmlgg_estimator`: ``CAMLIFSurvival`` set up for TCGA-GBMLGG;
- :func:`clinical_transformer`: the preprocessing of its four clinical columns;
- :class:`CoxnetCV`: an elastic-net Cox model with ``alpha`` chosen by inner CV (and a
  Breslow baseline, for survival functions);
- :func:`baseline_models`: the demo's two reference models; the model names and their
  reference figures;
- :data:`PAPER_NETWORK`: the parameters that turn ``CAMLIFSurvival`` into the paper's plain
  network.
"""

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted
from sksurv.base import SurvivalAnalysisMixin
from sksurv.linear_model import CoxnetSurvivalAnalysis, CoxPHSurvivalAnalysis
from sksurv.linear_model.coxph import BreslowEstimator
from sksurv.util import check_array_survival

from .datasets import load_tcga_gbmlgg
from .estimator import CAMLIFSurvival

__all__ = [
    "CAMLIF_NAME",
    "COXNET_NAME",
    "COXPH_NAME",
    "MODEL_NAMES",
    "PAPER_NETWORK",
    "REFERENCE",
    "CoxnetCV",
    "baseline_models",
    "clinical_transformer",
    "default_gbmlgg_estimator",
]

CAMLIF_NAME = "CAMLIFSurvival"
COXNET_NAME = "Coxnet (all features)"
COXPH_NAME = "CoxPH (clinical)"
MODEL_NAMES = (CAMLIF_NAME, COXNET_NAME, COXPH_NAME)

#: The paper's plain network: no linear offset, one network early-stopped on its own
#: validation split, the paper's alignment weight (eq. 7). The defaults differ in all
#: three (``docs/decisions.md``); ``CAMLIFSurvival(..., **PAPER_NETWORK)``.
PAPER_NETWORK = {"offset": None, "n_members": 1, "alignment_weight": 0.5}

NUMERIC_CLINICAL = ["age", "grade"]
CATEGORICAL_CLINICAL = ["gender", "histology"]

#: Harrell's C (mean, std) on the Test part of all 15 splits, measured beforehand
#: (see ``sksurv_camlif/datasets/data/tcga_gbmlgg/README.md``).
REFERENCE = {COXPH_NAME: (0.814, 0.026), COXNET_NAME: (0.804, 0.027)}


def _one_hot():
    # A missing category (the 33 patients without clinical data) gets its own column.
    return OneHotEncoder(handle_unknown="ignore", sparse_output=False)


def clinical_transformer():
    """Preprocessing of the four clinical columns of :func:`load_tcga_gbmlgg`.

    ``age`` and ``grade``: mean imputation and standardisation; ``gender`` and
    ``histology``: one-hot encoding. Columns are selected by name, so it applies to the
    whole ``X``.
    """
    return ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), NUMERIC_CLINICAL),
            ("cat", _one_hot(), CATEGORICAL_CLINICAL),
        ]
    )


def _has_partial_gaps(block):
    """True where some patient has part, but not all, of the block missing."""
    missing = block.isna().to_numpy()
    some, every = missing.any(axis=1), missing.all(axis=1)
    return bool((some & ~every).any())


def default_gbmlgg_estimator(random_state=0, *, X=None, modalities=None, **params):
    """``CAMLIFSurvival`` set up for the TCGA-GBMLGG tables of :func:`load_tcga_gbmlgg`.

    Blocks: ``"genomic"`` (the 43 gene-level columns; mean imputation of the partial gaps
    in IDH/codeletion, then standardisation) and ``"cnv"`` (the 37 arm-level columns;
    passed through, or mean-imputed if some patient has part of the block missing).
    Patients with a whole block missing have that modality absent. The clinical columns
    join at the head through :func:`clinical_transformer`.

    Parameters
    ----------
    random_state : int, RandomState instance or None, default=0
    X : pandas.DataFrame, default=None
        The feature table; only used to decide whether the ``"cnv"`` block needs an
        imputer. None loads the bundled data.
    modalities : dict of str to list of str, default=None
        The column lists of :func:`load_tcga_gbmlgg`; None loads the bundled data.
    **params
        Other ``CAMLIFSurvival`` parameters (e.g. ``max_iter``, ``device``).

    Returns
    -------
    CAMLIFSurvival (unfitted)
    """
    if X is None or modalities is None:
        data = load_tcga_gbmlgg()
        X = data.X if X is None else X
        modalities = data.modalities if modalities is None else modalities
    cnv_cols = list(modalities["cnv"])
    cnv = SimpleImputer() if _has_partial_gaps(X[cnv_cols]) else "passthrough"
    return CAMLIFSurvival(
        modalities=[
            ("genomic", make_pipeline(SimpleImputer(), StandardScaler()), list(modalities["genomic"])),
            ("cnv", cnv, cnv_cols),
        ],
        clinical=(clinical_transformer(), list(modalities["clinical"])),
        random_state=random_state,
        **params,
    )


def _all_features_transformer(numeric, categorical):
    return make_pipeline(
        ColumnTransformer([("num", SimpleImputer(), numeric), ("cat", _one_hot(), categorical)]),
        StandardScaler(),
    )


class CoxnetCV(SurvivalAnalysisMixin, BaseEstimator):
    """Elastic net Cox model on all features, ``alpha`` chosen by inner cross-validation.

    As in the scikit-survival user guide ("Penalized Cox Models"): a first fit on the
    preprocessed training data gives the path of alphas; ``n_alphas`` of them, evenly spaced
    (log scale) along the path, are compared by ``cv``-fold cross-validation (Harrell's C)
    on the training data only, with the preprocessing refitted in every fold; the best one
    is refitted on the whole training data.

    Parameters
    ----------
    numeric, categorical : list of str
        Columns mean-imputed, resp. one-hot encoded; everything is then standardised.
    l1_ratio : float, default=0.5
    n_alphas : int, default=10
    alpha_min_ratio : float, default=0.01
    cv : int, default=3
    random_state : int or None, default=0
        Shuffling of the inner folds.

    Attributes
    ----------
    best_estimator_ : Pipeline
    alpha_ : float
    alphas_ : ndarray, the alphas compared
    baseline_ : BreslowEstimator
        On the linear predictor of the training data (survival functions).
    """

    def __init__(self, numeric, categorical, *, l1_ratio=0.5, n_alphas=10,
                 alpha_min_ratio=0.01, cv=3, random_state=0):
        self.numeric = numeric
        self.categorical = categorical
        self.l1_ratio = l1_ratio
        self.n_alphas = n_alphas
        self.alpha_min_ratio = alpha_min_ratio
        self.cv = cv
        self.random_state = random_state

    def fit(self, X, y):
        pre = _all_features_transformer(self.numeric, self.categorical)
        path = CoxnetSurvivalAnalysis(l1_ratio=self.l1_ratio, alpha_min_ratio=self.alpha_min_ratio)
        path.fit(pre.fit_transform(X), y)
        idx = np.unique(np.linspace(0, len(path.alphas_) - 1, self.n_alphas).round().astype(int))
        self.alphas_ = path.alphas_[idx]
        pipe = make_pipeline(
            _all_features_transformer(self.numeric, self.categorical),
            CoxnetSurvivalAnalysis(l1_ratio=self.l1_ratio),
        )
        search = GridSearchCV(
            pipe,
            {"coxnetsurvivalanalysis__alphas": [[a] for a in self.alphas_]},
            cv=KFold(self.cv, shuffle=True, random_state=self.random_state),
            error_score=0.5,
        )
        search.fit(X, y)
        self.best_estimator_ = search.best_estimator_
        self.alpha_ = float(search.best_params_["coxnetsurvivalanalysis__alphas"][0])
        event, time = check_array_survival(X, y)
        self.baseline_ = BreslowEstimator().fit(self.best_estimator_.predict(X), event, time)
        return self

    def predict(self, X):
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.predict(X)

    def predict_survival_function(self, X, return_array=False):
        """Survival functions from the Breslow baseline on the linear predictor."""
        check_is_fitted(self, "baseline_")
        return self._predict_survival_function(self.baseline_, self.predict(X), return_array)


def baseline_models(modalities=None, random_state=0):
    """The two reference models of the demo, unfitted, by name.

    Returns
    -------
    dict
        ``COXNET_NAME``: :class:`CoxnetCV` on all 84 columns (``l1_ratio=0.5``, 10 alphas,
        inner 3-fold CV); ``COXPH_NAME``: :class:`~sksurv.linear_model.CoxPHSurvivalAnalysis`
        (``alpha=1e-4``, a small ridge for stability) on the clinical columns through
        :func:`clinical_transformer`.
    """
    if modalities is None:
        modalities = load_tcga_gbmlgg().modalities
    clinical = list(modalities["clinical"])
    numeric = list(modalities["genomic"]) + list(modalities["cnv"])
    numeric += [c for c in NUMERIC_CLINICAL if c in clinical]
    categorical = [c for c in CATEGORICAL_CLINICAL if c in clinical]
    return {
        COXNET_NAME: CoxnetCV(numeric, categorical, random_state=random_state),
        COXPH_NAME: make_pipeline(clinical_transformer(), CoxPHSurvivalAnalysis(alpha=1e-4)),
    }

"""CAMLIFSurvival: the scikit-survival estimator around the CA-MLIF network."""

import copy
import warnings
from dataclasses import replace
from numbers import Integral, Real

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from torch import nn
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data
from sksurv.base import SurvivalAnalysisMixin
from sksurv.linear_model.coxph import BreslowEstimator
from sksurv.util import check_array_survival

from ._version import __version__
from .device import DEVICE_CONSTRAINT, module_state_to_cpu, resolve_device, restore_device, seeded, torch_threads
from .explain import network_internals
from .modality import fit_blocks, parse_spec, resolve_token_groups
from .nn import CAMLIFNet
from .protocol import CLINICAL_PENALTIES, CRITERIA, RESIDUAL_WEIGHTS, choose_residual_weight, fit_clinical_ridge_offset, fit_coxnet_offset, inner_folds
from .splines import fit_spline_basis
from .stacking import train_stacked
from .training import SurvivalTensors, camlif_run, pooled_score, predict_log_risk, train_lockstep, train_module

__all__ = ["CAMLIFSurvival"]


#: the training record of a fit that trained no network (linear offset only)
_NO_TRAINING = {"loss": [], "validation_score": [], "best_validation_score": None,
                "best_epoch": None, "interrupted": False}


class CAMLIFSurvival(SurvivalAnalysisMixin, BaseEstimator):
    """Multimodal deep Cox model CA-MLIF (cross-attention + low-rank interaction fusion).

    Each modality block (e.g. genomics, copy-number, radiomics) is cut into tokens and
    encoded by its own self-attention encoder; a bidirectional cross-attention with global
    contexts exchanges information between the blocks; modal attention, low-rank
    multimodal fusion (LMF [2]_) and optimal weight concatenation fuse the original and
    enhanced representations; the clinical block joins at the head. Trained with the Cox
    partial likelihood plus an alignment loss (An et al., 2025 [1]_).

    By default the networks are blended with a linear model, so that the estimator starts
    from the best linear Cox model the data support and keeps only what the networks
    measurably add::

        log-risk(x) = (1 - w) * offset(x) + w * mean_k f_k(x)

    1. ``offset``: an elastic-net Cox model (scikit-survival's
       :class:`~sksurv.linear_model.CoxnetSurvivalAnalysis`, ``l1_ratio=0.5``) on every
       standardised block output plus the clinical block; ``alpha`` (a 30-value path; and
       the relative penalty of the clinical columns, if ``clinical_penalties`` offers
       several) is chosen by ``cv``-fold inner cross-validation (mean held-out Harrell's
       C), and a ridge Cox model of the clinical block alone is a candidate too. An
       absent modality enters it at the block's training mean. Its out-of-fold linear
       predictor (no patient's offset was fitted on that patient) is what ``w`` is chosen
       on; at predict time the model refitted on all training data is used.
    2. ``n_members`` CA-MLIF networks f_k: member k trains on the other inner folds and
       early-stops on fold k.
    3. ``w`` is chosen among ``residual_weights`` from every fold's out-of-fold C with a
       one-standard-error rule toward 0: where the networks add nothing measurable, the
       estimator *is* the linear model.

    ``combination="residual"`` instead trains each f_k as a residual on top of the
    out-of-fold offset (``log-risk = offset + w * mean_k f_k``, the risk head starting at
    0). ``offset=None, n_members=1, alignment_weight=0.5``
    (:data:`sksurv_camlif.presets.PAPER_NETWORK`) is the paper's plain network (one
    network, early-stopped on a ``validation_fraction`` split, the paper's alignment
    weight), as before this protocol existed.

    Parameters
    ----------
    modalities : list of (str, transformer, columns) tuples
        The modality blocks, as in :class:`~sklearn.compose.ColumnTransformer`: a unique
        name, a transformer (or "passthrough" / "drop") fitted on the block inside ``fit``,
        and the columns (name, list of names, int, list of ints, slice, boolean mask or a
        callable such as :func:`~sklearn.compose.make_column_selector`). Blocks must not
        overlap. A patient whose every column of a block is NaN has that modality absent.
    clinical : columns or (transformer, columns), default=None
        Clinical features that join at the risk head (with a linear term). Must be free of
        NaN after its transformer (use an imputer).
    token_groups : dict of {str: list of column groups}, default=None
        Explicit feature groups per modality, one token per group (as the paper's pathology
        groups). A group lists column names of the block (transformer keeping one output per
        column) or positions in the block's transformed output.
    n_tokens : int, default=4
        Number of contiguous groups (tokens) a block without explicit groups is cut into.
    d_model : int, default=32
        Token width.
    n_heads : int, default=4
        Attention heads (``d_model`` must be divisible by it).
    n_encoder_layers : int, default=2
        Self-attention layers per modality encoder (the paper uses 2).
    rank : int, default=4
        Rank of the low-rank multimodal fusion.
    hidden_size : int, default=64
        Width of the fusion MLP and of the risk head.
    dropout : float, default=0.1
    cross_attention : bool, default=True
        False: the paper's "without cross-attention" ablation.
    second_fusion : bool, default=True
        False: the paper's "without second fusion" ablation (fuse enhanced features only).
    clinical_linear : {"cox", "zero", "none"}, default="cox"
        The linear path of the clinical block to the log-risk. "cox" starts it at a ridge
        Cox model fitted on the clinical block of the training part (so the network starts
        as that Cox model and learns what the modalities add); "zero" starts it at 0; "none"
        leaves it out (clinical data then enter only through the head MLP).
        With ``combination="residual"`` the path starts at 0 ("cox" acts as "zero"): the
        offset holds the linear model.
    clinical_ridge : float, default=1.0
        Ridge penalty of that initial Cox fit (scikit-survival's ``alpha``), and of the
        ``offset="clinical-ridge"`` model.
    offset : {"coxnet", "clinical-ridge"} or None, default="coxnet"
        The linear model the networks are combined with (``combination``): the
        elastic-net Cox model above, a ridge Cox model of the clinical block (penalty
        ``clinical_ridge``), or none.
    combination : {"blend", "residual"}, default="blend"
        How the members join the offset. "blend": each member is a whole network trained
        without the offset (as the plain network: its clinical path starts at the ridge
        Cox fit), and ``log-risk = (1 - w) * offset + w * mean_k f_k``, w in [0, 1] chosen
        on every patient's out-of-fold prediction. "residual": each member learns a
        residual f_k on top of the out-of-fold offset (its risk head starting at 0), and
        ``log-risk = offset + w * mean_k f_k``; on the known truths of
        ``benchmarks/synthetic.py`` such residuals barely move from the linear start
        (``docs/defaults.md``).
    n_members : int, default=5
        Networks trained, member k on the inner folds other than k (at most ``cv``). With
        ``offset=None`` and 1, the plain network with its own validation split.
    cv : int, default=5
        Inner folds (stratified by event) of the offset's penalty choice, its
        cross-fitting and the members.
    clinical_penalties : array-like of float, default=(1,)
        Relative penalties of the clinical columns tried by the Coxnet offset (1: as the
        other columns; 0: unpenalised); the inner CV chooses one (or, with
        ``offset_alpha="average"``, averages over the near-best). (1, 0.1) was the default
        before the clinical-only candidate made the favoured clinical block redundant.
    offset_alpha : {"average", "best", "one-se"}, default="average"
        How the inner CV turns the Coxnet offset's path into one model: "average", the
        mean coefficients of every (alpha, clinical penalty) whose paired deficit to the
        best is within one standard error over the inner folds (and, if the clinical-only
        model is kept, the mean of that and the Coxnet); "best", the highest mean score;
        "one-se", the largest alpha within one standard error of it (``cv.glmnet``'s
        ``lambda.1se``).
    offset_criterion : {"c-index", "deviance", "pooled-c", "pooled-deviance"}, default="c-index"
        The inner score of the Coxnet offset's (alpha, clinical penalty): averaged over
        folds, each held-out fold's Harrell's C or the cross-validated partial likelihood
        (Verweij and van Houwelingen; ``cv.glmnet``'s default); or one Harrell's C, resp.
        partial likelihood, of all patients' pooled out-of-fold predictions (Dai and
        Breheny).
    offset_repeats : int, default=1
        Fold assignments whose inner scores are averaged to choose the Coxnet offset's
        (alpha, clinical penalty): repeated CV, less sensitive to one random partition.
        The out-of-fold offset and the members use the first assignment.
    offset_clinical_only : bool, default=True
        Also consider a ridge Cox model of the clinical block alone (penalty
        ``clinical_ridge``) as the offset; it is kept when the best Coxnet is not ahead of
        it by more than one standard error on the inner folds: at half weight with
        ``offset_alpha="average"``, alone otherwise.
    offset_splines : int or None, default=4
        Knots of a cubic B-spline basis (:mod:`sksurv_camlif.splines`) added to the
        offset's design for every numeric clinical column (at least three distinct quantile
        knots; binary and one-hot columns keep their linear term only), so that the linear
        offset can fit an additive curve such as a U-shaped age effect. Only the Coxnet
        uses them (penalised as the blocks' columns); the clinical-only candidate and
        ``offset="clinical-ridge"`` stay linear. None: the offset is linear in every
        column. The network's inputs are unchanged.
    residual_weights : array-like of float, default=(0, 0.25, 0.5, 1)
        Candidate weights w of the network's part. ``[0]`` fits the linear model only (no
        network is trained); a single value fixes w.
    alignment_weight : float, default=0
        Weight alpha of the alignment loss (eq. 7; acts only with cross-attention). The
        paper uses 0.5; the default 0 is the paper's "without alignment" ablation. The
        alignment loss (the L1 distance between each block's class token before and after
        the cross-attention) penalises exactly the cross-modal information that an
        interaction between blocks needs: on a known genomic x copy-number interaction
        0 gained +.008 C over 0.5, on the real sets' inner folds it was level
        (``docs/defaults.md``).
    ties : {"breslow", "efron"}, default="breslow"
        Handling of tied event times in the Cox loss.
    max_iter : int, default=100
        Maximum number of epochs.
    batch_size : int, default=64
        Mini-batch size; batches are formed so that each holds events.
    learning_rate_init : float, default=1e-3
        AdamW learning rate.
    weight_decay : float, default=1e-4
        AdamW decoupled weight decay.
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the training data (stratified by event) and stop
        when its Harrell's C has not improved by ``tol`` for ``n_iter_no_change`` epochs; the
        best weights are restored. False trains exactly ``max_iter`` epochs.
    validation_fraction : float, default=0.15
    scoring : {"c-index", "loss"}, default="c-index"
        What early stopping watches on the held-out part: Harrell's C, or (as
        ``HistGradientBoostingRegressor``'s ``scoring="loss"``) minus the Cox loss, the mean
        partial log-likelihood per event, offset included; ``validation_scores_`` then
        holds that value.
    member_stopping : {"own", "next", "pooled"}, default="next"
        How the members of the fitting protocol early-stop. "own": member k stops on its
        held-out inner fold k alone. "next": member k stops on fold k + 1 (cyclically) and
        trains on the folds other than k and k + 1, so that its out-of-fold prediction on
        fold k, on which ``w`` is chosen, is free of the optimism of having picked the
        stopping epoch there (needs ``cv >= 3``; each member trains on 3/5 of the patients
        instead of 4/5 with ``cv=5``). Against "own", 10 splits x 5 inner folds of the
        benchmark's training parts: wpbc +.012 +- .006, GSE7390 +.004 +- .004, GBMLGG
        -.001 +- .001, METABRIC -.001 +- .001, and fits 10-30 % faster
        (``docs/defaults.md``).
        "pooled": the members train together, one epoch each
        per round, and stop together at the round whose ``scoring`` of every training
        patient's out-of-fold prediction (all folds pooled) was best: one decision on all
        patients instead of one per member on a fifth of them (on the benchmark's inner
        folds level with "own" and 1.1-2.1x slower: ``docs/defaults.md``). Not used by the
        plain network or with ``early_stopping=False``.
    stack_members : bool, default=True
        Train the members of the fitting protocol at once, as one stacked network
        (:func:`sksurv_camlif.stacking.train_stacked`, ``torch.func.vmap``): one forward
        and backward pass per step for all members, each with its own batches, held-out
        fold and early stopping; a member that stops leaves the stack. Same algorithm as
        one by one (False), but the members are all built before any trains and dropout
        draws differ, so results differ within noise. On one CPU thread a default GBMLGG
        fit took 15-17 s against 21 s one by one (``docs/speed.md``); on a GPU, where one
        small member leaves the device idle, the gain is larger. Not used by the plain
        network, with ``member_stopping="pooled"`` or with ``compile``.
    n_iter_no_change : int, default=10
    tol : float, default=1e-4
    device : {"auto", "cpu", "cuda", "cuda:N"}, default="auto"
        "auto" uses CUDA when available.
    precision : {"float32", "bfloat16"}, default="float32"
        "bfloat16" trains the forward pass under autocast (mixed precision; meant for CUDA
        GPUs with bf16 support); the loss and the weights stay float32.
    compile : bool, default=False
        Train through ``torch.compile`` of the network (needs a working compiler
        toolchain; pays off for long runs on GPU).
    n_threads : int, default=None
        Torch intra-op threads during fit and predict (restored afterwards). None means 1
        on the CPU: the network is small, and torch's thread pool cost a default GBMLGG fit
        3-4x (up to 14x on a busy machine) on 2 cores; parallelise over fits with
        ``n_jobs`` instead. On CUDA, None leaves torch's setting alone.
    random_state : int, RandomState instance or None, default=None
        Seeds the weights, dropout, the validation split and the batch order; the global
        RNG states of torch and numpy are left untouched.
    verbose : int, default=0
        1 shows a progress bar with the loss and the validation C-index.
    warm_start : bool, default=False
        Continue training the fitted members (keeping the fitted block transformers; the
        optimizer starts afresh) instead of refitting from scratch; the inner folds, the
        offset and w are refitted on the given data.

    Attributes
    ----------
    offset_ : LinearOffset or None
        The linear model refitted on all training data: ``coef_`` on the standardised
        block outputs named by ``feature_names_`` (the clinical spline basis last, as
        ``<column>__spline<i>``), the chosen ``alpha_`` and ``clinical_penalty_``, the
        inner-CV table ``cv_results_``.
    members_ : list of CAMLIFNet
        The trained networks (on ``device_``); empty when ``residual_weights=[0]``.
    module_ : CAMLIFNet or None
        ``members_[0]``.
    offset_weight_ : float
        Weight of the offset in the log-risk: 1 with ``combination="residual"``,
        ``1 - residual_weight_`` with "blend".
    residual_weight_ : float
        The chosen w (1 without an offset).
    residual_cv_ : dict or None
        ``weights`` and the held-out C of each inner fold for each (``fold_c``).
    oof_risk_ : ndarray of shape (n_samples,) or None
        Out-of-fold log-risk of every training patient (offset and member that never saw
        the patient), for stacking and calibration; None for the plain network.
    inner_fold_ : ndarray of int or None
        Inner fold of every training patient.
    member_best_epochs_, member_n_iter_ : list of int
        Per member, the epoch whose weights were kept (0: the initial ones) and the
        epochs run.
    device_ : torch.device
    modalities_ : list of str
        Names of the modality blocks used.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when X has string column names.
    n_iter_ : int
        Epochs run (first member; ``loss_curve_``, ``validation_scores_``, ``history_``,
        ``best_epoch_`` are the first member's too).
    loss_curve_ : list of float
        Training loss per epoch.
    validation_scores_ : list of float or None
        Validation Harrell's C per epoch (early stopping only); with ``warm_start`` it
        continues the previous fits' list, as ``loss_curve_`` does.
    history_ : list of dict
        One record per epoch: ``{"epoch", "loss", "validation_score", "time"}`` (``time``:
        seconds of training in that epoch, validation excluded).
    best_validation_score_ : float or None
        Best validation C of the last fit, including that of its initial weights (epoch 0).
    best_epoch_ : int or None
        Epoch whose weights were kept; 0 means the initial weights (with
        ``clinical_linear="cox"``, the ridge Cox model of the clinical block) did best.
    unique_times_ : ndarray
        Unique times (event or censoring) of the training data, where the survival
        functions are evaluated with ``return_array=True``.
    cum_baseline_hazard_ : StepFunction
        Breslow estimate on the final network's log-risk over the whole training set.
    baseline_survival_ : StepFunction

    References
    ----------
    .. [1] An, Y. et al. "CA-MLIF: Cross-Attention and Multimodal Low-Rank Interaction
           Fusion Framework for Tumor Prognostic Prediction." AAAI 2025.
    .. [2] Liu, Z. et al. "Efficient Low-rank Multimodal Fusion with Modality-Specific
           Factors." ACL 2018.
    """

    _parameter_constraints = {
        "modalities": [list, tuple],
        "clinical": "no_validation",  # checked with the spec in fit
        "token_groups": [None, dict],
        "n_tokens": [Interval(Integral, 1, None, closed="left")],
        "d_model": [Interval(Integral, 1, None, closed="left")],
        "n_heads": [Interval(Integral, 1, None, closed="left")],
        "n_encoder_layers": [Interval(Integral, 0, None, closed="left")],
        "rank": [Interval(Integral, 1, None, closed="left")],
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "cross_attention": ["boolean"],
        "second_fusion": ["boolean"],
        "clinical_linear": [StrOptions({"cox", "zero", "none"})],
        "clinical_ridge": [Interval(Real, 0, None, closed="left")],
        "offset": [None, StrOptions({"coxnet", "clinical-ridge"})],
        "combination": [StrOptions({"residual", "blend"})],
        "n_members": [Interval(Integral, 1, None, closed="left")],
        "cv": [Interval(Integral, 2, None, closed="left")],
        "residual_weights": ["array-like"],
        "clinical_penalties": ["array-like"],
        "offset_alpha": [StrOptions({"best", "one-se", "average"})],
        "offset_criterion": [StrOptions(set(CRITERIA))],
        "offset_repeats": [Interval(Integral, 1, None, closed="left")],
        "offset_clinical_only": ["boolean"],
        "offset_splines": [None, Interval(Integral, 3, None, closed="left")],
        "alignment_weight": [Interval(Real, 0, None, closed="left")],
        "ties": [StrOptions({"breslow", "efron"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "scoring": [StrOptions({"c-index", "loss"})],
        "member_stopping": [StrOptions({"own", "next", "pooled"})],
        "stack_members": ["boolean"],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "device": [DEVICE_CONSTRAINT],
        "precision": [StrOptions({"float32", "bfloat16"})],
        "compile": ["boolean"],
        "n_threads": [None, Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    def __init__(
        self,
        modalities,
        *,
        clinical=None,
        token_groups=None,
        n_tokens=4,
        d_model=32,
        n_heads=4,
        n_encoder_layers=2,
        rank=4,
        hidden_size=64,
        dropout=0.1,
        cross_attention=True,
        second_fusion=True,
        clinical_linear="cox",
        clinical_ridge=1.0,
        offset="coxnet",
        combination="blend",
        n_members=5,
        cv=5,
        residual_weights=RESIDUAL_WEIGHTS,
        clinical_penalties=CLINICAL_PENALTIES,
        offset_alpha="average",
        offset_criterion="c-index",
        offset_repeats=1,
        offset_clinical_only=True,
        offset_splines=4,
        alignment_weight=0.0,
        ties="breslow",
        max_iter=100,
        batch_size=64,
        learning_rate_init=1e-3,
        weight_decay=1e-4,
        early_stopping=True,
        validation_fraction=0.15,
        scoring="c-index",
        member_stopping="next",
        stack_members=True,
        n_iter_no_change=10,
        tol=1e-4,
        device="auto",
        precision="float32",
        compile=False,
        n_threads=None,
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        self.modalities = modalities
        self.clinical = clinical
        self.token_groups = token_groups
        self.n_tokens = n_tokens
        self.d_model = d_model
        self.n_heads = n_heads
        self.n_encoder_layers = n_encoder_layers
        self.rank = rank
        self.hidden_size = hidden_size
        self.dropout = dropout
        self.cross_attention = cross_attention
        self.second_fusion = second_fusion
        self.clinical_linear = clinical_linear
        self.clinical_ridge = clinical_ridge
        self.offset = offset
        self.combination = combination
        self.n_members = n_members
        self.cv = cv
        self.residual_weights = residual_weights
        self.clinical_penalties = clinical_penalties
        self.offset_alpha = offset_alpha
        self.offset_criterion = offset_criterion
        self.offset_repeats = offset_repeats
        self.offset_clinical_only = offset_clinical_only
        self.offset_splines = offset_splines
        self.alignment_weight = alignment_weight
        self.ties = ties
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.scoring = scoring
        self.member_stopping = member_stopping
        self.stack_members = stack_members
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.device = device
        self.precision = precision
        self.compile = compile
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    # -- nested parameters of the block transformers (as ColumnTransformer's) ------------
    def _named_transformers(self):
        """(prefix, transformer) of every block whose transformer has parameters."""
        out = []
        if isinstance(self.modalities, (list, tuple)):
            for entry in self.modalities:
                if isinstance(entry, (list, tuple)) and len(entry) == 3 and isinstance(entry[0], str):
                    out.append((f"modalities__{entry[0]}", entry[1]))
        if isinstance(self.clinical, tuple) and len(self.clinical) == 2 and hasattr(self.clinical[0], "get_params"):
            out.append(("clinical", self.clinical[0]))
        return out

    def get_params(self, deep=True):
        """Parameters of the estimator; with ``deep=True`` also each block's transformer
        (``modalities__<name>``) and its parameters (``modalities__<name>__<param>``), and
        those of the clinical transformer (``clinical__<param>``), as in
        :class:`~sklearn.compose.ColumnTransformer`.
        """
        out = super().get_params(deep=deep)
        if not deep:
            return out
        for prefix, transformer in self._named_transformers():
            if prefix != "clinical":
                out[prefix] = transformer
            if hasattr(transformer, "get_params"):
                for key, value in transformer.get_params(deep=True).items():
                    out[f"{prefix}__{key}"] = value
        return out

    def set_params(self, **params):
        """Set parameters, including nested ones (see :meth:`get_params`).

        ``modalities__<name>`` replaces that block's transformer (e.g. by "passthrough");
        ``modalities__<name>__<param>`` and ``clinical__<param>`` are passed to the
        transformer's own ``set_params``.
        """
        nested = {k: params.pop(k) for k in list(params) if k.startswith(("modalities__", "clinical__"))}
        super().set_params(**params)  # first: a new `modalities` or `clinical` replaces the old
        for key, value in nested.items():
            if key.startswith("clinical__"):
                self._clinical_transformer(key).set_params(**{key[len("clinical__"):]: value})
                continue
            name, _, param = key[len("modalities__"):].partition("__")
            i = self._block_index(name, key)
            block_name, transformer, columns = self.modalities[i]
            if param:
                transformer.set_params(**{param: value})
            else:
                blocks = list(self.modalities)
                blocks[i] = (block_name, value, columns)
                self.modalities = blocks
        return self

    def _block_index(self, name, key):
        for i, entry in enumerate(self.modalities):
            if entry[0] == name:
                return i
        names = [entry[0] for entry in self.modalities]
        raise ValueError(f"Invalid parameter {key!r}: there is no modality {name!r} (modalities: {names})")

    def _clinical_transformer(self, key):
        if not (isinstance(self.clinical, tuple) and len(self.clinical) == 2
                and hasattr(self.clinical[0], "set_params")):
            raise ValueError(
                f"Invalid parameter {key!r}: the clinical block has no transformer with "
                "parameters; give clinical=(transformer, columns)"
            )
        return self.clinical[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # whole-block NaN = absent modality
        tags.input_tags.string = True  # through the block transformers
        tags.non_deterministic = False
        return tags

    # -- input handling ---------------------------------------------------------------
    def _check_X(self, X, reset):
        if sp.issparse(X):
            raise TypeError(
                "CAMLIFSurvival does not support sparse input X; convert it with X.toarray()"
            )
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
        X = validate_data(self, X, reset=reset, skip_check_array=True)
        if X.shape[0] == 0:
            raise ValueError("X has 0 samples; at least 1 is required")
        return X

    @staticmethod
    def _check_y(X, y):
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
        # check_array_survival has rejected NaN, inf and negative times
        event = np.ascontiguousarray(event, dtype=bool)
        time = np.ascontiguousarray(time, dtype=np.float64)
        if X.shape[0] < 2:
            raise ValueError(f"at least 2 samples are required to fit, got {X.shape[0]}")
        return event, time

    @staticmethod
    def _arrays(X, blocks, clinical, outputs=None):
        """Host arrays of X through the fitted blocks: (blocks with NaN where absent,
        presence mask, clinical or None). ``outputs``: the blocks' outputs on X already
        computed by ``fit_blocks`` (X is then not transformed again)."""
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
        return arrays, present, clin

    @staticmethod
    def _design(arrays, clin, splines=None):
        """The linear offset's design: every standardised block output side by side, an
        absent modality at 0 (its training mean), then the clinical block and its spline
        basis."""
        parts = [np.nan_to_num(a, nan=0.0) for a in arrays]
        if clin is not None:
            parts.append(clin)
            if splines is not None:
                parts.append(splines.transform(clin))
        return np.concatenate(parts, axis=1).astype(np.float64)

    def _offset_design(self, arrays, clin, blocks, clinical, feature_names):
        """The training design of the offset, which of its columns are clinical, their names
        and the fitted spline basis (None without clinical block or ``offset_splines``)."""
        names, is_clin = self._design_columns(blocks, clinical, feature_names)
        splines = None
        if clin is not None and self.offset_splines is not None:
            # refitted on warm start too, as the offset it serves
            splines = fit_spline_basis(clin, [n for n, c in zip(names, is_clin) if c], self.offset_splines)
            names = names + splines.names
            # not clinical for the offset: the clinical-only ridge candidate (and
            # offset="clinical-ridge") stay linear, the Coxnet chooses the curves
            is_clin = np.concatenate([is_clin, np.zeros(splines.n_outputs, bool)])
        return self._design(arrays, clin, splines), is_clin, names, splines

    @staticmethod
    def _design_columns(blocks, clinical, feature_names):
        """Names of the design's columns and which of them are clinical."""
        parts = blocks + ([clinical] if clinical is not None else [])
        names = [n for b in parts for n in b.feature_names_out(feature_names)]
        is_clin = np.zeros(len(names), bool)
        if clinical is not None:
            is_clin[len(names) - clinical.n_outputs:] = True
        return names, is_clin

    @staticmethod
    def _tensors(arrays, present, clin, device, event=None, time=None):
        """The inputs (and, to fit, the targets: on the device, and on the host for the
        C-index) as one :class:`SurvivalTensors`."""
        def dev(a, dtype=torch.float32):
            return None if a is None else torch.as_tensor(a, dtype=dtype).to(device)

        return SurvivalTensors(
            [dev(np.nan_to_num(a)) for a in arrays],
            dev(present, torch.bool),
            dev(clin),
            time=dev(time, torch.float64),  # float64: keeps ties exact
            event=dev(event, torch.bool),
            host_time=time,
            host_event=event,
        )

    # -- fit ----------------------------------------------------------------------------
    def fit(self, X, y):
        """Fit the linear offset, the network members and the Breslow baseline.

        Parameters
        ----------
        X : DataFrame or array-like, shape (n_samples, n_features)
        y : structured array, shape (n_samples,)
            A boolean event indicator as first field and the time as second, e.g. from
            :meth:`sksurv.util.Surv.from_arrays`.

        Returns
        -------
        self
        """
        self._validate_params()
        # validate_data(reset=True) writes n_features_in_ / feature_names_in_ at once: keep
        # the previous values so that a failed fit leaves the estimator as it was
        saved = {k: self.__dict__[k] for k in ("n_features_in_", "feature_names_in_") if k in self.__dict__}
        try:
            return self._fit(X, y)
        except BaseException:
            for k in ("n_features_in_", "feature_names_in_"):
                self.__dict__.pop(k, None)
            self.__dict__.update(saved)
            raise

    def _single(self):
        """True for the paper's plain network: no offset, one member, its own validation
        split (the behaviour before the fitting protocol)."""
        return self.offset is None and self.n_members == 1

    def _fit(self, X, y):
        # a linear-only fit (no member) has nothing to continue: it refits
        warm = self.warm_start and bool(getattr(self, "members_", None))
        X = self._check_X(X, reset=not warm)
        event, time = self._check_y(X, y)
        self._check_members(warm)
        feature_names = getattr(self, "feature_names_in_", None)
        if warm:
            blocks, clinical, outputs = self._blocks, self._clinical_block, None
        else:
            specs = parse_spec(self.modalities, self.clinical)
            blocks, clinical, outputs = fit_blocks(X, specs, feature_names)
            resolve_token_groups(blocks, self.token_groups, feature_names)
        device = resolve_device(self.device)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

        with torch_threads(self._threads(device)), seeded(device, seed):
            arrays, present, clin = self._arrays(X, blocks, clinical, outputs)
            data = self._tensors(arrays, present, clin, device, event, time)
            Z = None
            if self._single():
                fitted = self._fit_single(data, blocks, clinical, seed, warm)
            else:
                Z, is_clin, names, splines = self._offset_design(arrays, clin, blocks, clinical, feature_names)
                fitted = self._fit_protocol(data, Z, is_clin, names, blocks, clinical, seed, warm)
                fitted["_offset_splines"] = splines
            risk = self._combine(fitted, data, Z)
        if not np.isfinite(risk).all():
            raise FloatingPointError(
                "the trained network predicts NaN or inf on the training data; lower "
                "learning_rate_init or check the inputs for extreme values"
            )
        baseline = BreslowEstimator().fit(risk, event, time)

        # Everything succeeded: only now replace the fitted state.
        histories = fitted.pop("histories")
        self._blocks, self._clinical_block = blocks, clinical
        self.__dict__.update(fitted)
        self.module_ = fitted["members_"][0] if fitted["members_"] else None
        self.device_ = device
        self.modalities_ = [b.name for b in blocks]
        self._baseline_model = baseline
        self.unique_times_ = baseline.unique_times_
        self.cum_baseline_hazard_ = baseline.cum_baseline_hazard_
        self.baseline_survival_ = baseline.baseline_survival_
        self._record_history(histories[0] if histories else _NO_TRAINING, warm)
        self.interrupted_ = any(h["interrupted"] for h in histories)
        self.member_best_epochs_ = [h["best_epoch"] for h in histories]
        self.member_n_iter_ = [len(h["loss"]) for h in histories]
        return self

    def _nonnegative(self, name):
        """The parameter ``name`` as a sorted tuple of distinct finite values >= 0."""
        value = getattr(self, name)
        values = np.asarray(value, dtype=np.float64).ravel()
        if values.size == 0 or not np.isfinite(values).all() or (values < 0).any():
            raise ValueError(f"{name} must be a non-empty list of finite values >= 0, got {value!r}")
        return tuple(float(v) for v in np.unique(values))

    def _residual_weights(self):
        weights = self._nonnegative("residual_weights")
        if self.combination == "blend" and max(weights) > 1:
            raise ValueError(
                f"combination='blend' mixes (1 - w) offset + w network: residual_weights "
                f"must lie in [0, 1], got {self.residual_weights!r}"
            )
        return weights

    def _check_members(self, warm):
        if not self._single() and self.n_members > self.cv:
            raise ValueError(
                f"n_members={self.n_members} cannot exceed cv={self.cv}: member k trains on "
                "the other inner folds and early-stops on fold k"
            )
        if not self._single() and self.early_stopping and self.member_stopping == "next" and self.cv < 3:
            raise ValueError(
                f"member_stopping='next' needs cv >= 3, got cv={self.cv}: member k early-stops "
                "on fold k + 1 and trains on the folds other than k and k + 1"
            )
        if warm and len(self.members_) != self.n_members:
            raise ValueError(
                f"warm_start: the fitted model has {len(self.members_)} member(s) but "
                f"n_members={self.n_members}; set warm_start=False to refit"
            )

    def _record_history(self, history, warm):
        """The training record of the first member (the only one of the plain network)."""
        previous = list(getattr(self, "loss_curve_", [])) if warm else []
        self.loss_curve_ = previous + history["loss"]
        self.n_iter_ = len(self.loss_curve_)
        if self.early_stopping:
            previous = getattr(self, "validation_scores_", None) if warm else None
            self.validation_scores_ = list(previous or []) + history["validation_score"]
        else:
            self.validation_scores_ = None
        scores = self.validation_scores_ or [None] * self.n_iter_
        previous = [h.get("time") for h in getattr(self, "history_", [])] if warm else []
        times = previous + history.get("epoch_time", [])
        times += [None] * (self.n_iter_ - len(times))
        self.history_ = [
            {"epoch": i + 1, "loss": loss, "validation_score": score, "time": seconds}
            for i, (loss, score, seconds) in enumerate(zip(self.loss_curve_, scores, times))
        ]
        self.best_validation_score_ = history["best_validation_score"]
        self.best_epoch_ = history["best_epoch"]
        self.interrupted_ = history["interrupted"]

    def _fit_single(self, data, blocks, clinical, seed, warm):
        """The plain network: one member, early-stopped on a ``validation_fraction`` split."""
        train, validation = data, None
        if self.early_stopping:
            train, validation = self._split_validation(data, data.host_event, seed)
        if warm:
            module = copy.deepcopy(self.members_[0])  # the fitted one survives a failure
        else:
            module = self._build_module(blocks, clinical)
            if clinical is not None and self.clinical_linear == "cox":
                self._init_clinical_path(module, train, seed)
            module = module.to(data.present.device)
        history = self._train(module, train, validation, seed)
        return {"offset_": None, "offset_weight_": 1.0, "residual_weight_": 1.0, "members_": [module],
                "_offset_splines": None, "oof_risk_": None, "inner_fold_": None, "residual_cv_": None,
                "histories": [history]}

    def _fit_protocol(self, data, Z, is_clin, names, blocks, clinical, seed, warm):
        """Cross-fitted linear offset, K-fold members as its residual, w on out-of-fold C."""
        event, time = data.host_event, data.host_time
        fold = inner_folds(event, self.cv, seed)
        offset, offset_oof = None, np.zeros(len(data))
        if self.offset == "coxnet":
            offset, offset_oof = fit_coxnet_offset(
                Z, is_clin, event, time, fold, names,
                clinical_penalties=self._nonnegative("clinical_penalties"),
                alpha_rule=self.offset_alpha,
                criterion=self.offset_criterion,
                extra_folds=[inner_folds(event, self.cv, seed + r) for r in range(1, self.offset_repeats)],
                clinical_only_alpha=self.clinical_ridge if self.offset_clinical_only else None,
                ties=self.ties,
            )
        elif self.offset == "clinical-ridge":
            offset, offset_oof = fit_clinical_ridge_offset(
                Z, is_clin, event, time, fold, names, alpha=self.clinical_ridge, ties=self.ties
            )
        # residual members train on the out-of-fold offsets; `data` itself stays offset-free
        blend = self.combination == "blend"
        trained_on = data if offset is None or blend else replace(
            data, offset=torch.as_tensor(offset_oof, dtype=torch.float32).to(data.present.device)
        )

        # all residual weights 0 (and an offset): the linear model alone, no network to train
        n_members = 0 if offset is not None and max(self._residual_weights()) == 0 else self.n_members
        indices = [self._member_indices(fold, k) for k in range(n_members)]
        parts = [(trained_on.take(torch.as_tensor(train)), trained_on.take(torch.as_tensor(stop)))
                 for train, stop in indices]

        def member(k):
            residual = offset is not None and not blend
            return self._new_member(k, parts[k][0], blocks, clinical, seed, warm, residual=residual)

        if n_members and self.early_stopping and self.member_stopping == "pooled":
            members = [member(k) for k in range(n_members)]
            histories = self._train_lockstep(members, parts, seed)
        elif n_members > 1 and self._stacks():
            members = [member(k) for k in range(n_members)]
            histories = self._train_stacked(members, trained_on, indices, seed)
        else:  # each member built just before its training (the random stream of one-by-one)
            members, histories = [], []
            for k, (train, held_out) in enumerate(parts):
                members.append(member(k))
                histories.append(self._train(members[k], train, held_out if self.early_stopping else None, seed + k))
                if histories[-1]["interrupted"]:
                    break  # Ctrl-C ends the whole fit: keep the members trained so far
        members = members[: len(histories)]
        residual_oof = np.full(len(data), np.nan)
        for k, module in enumerate(members):
            unseen = trained_on.take(torch.as_tensor(np.flatnonzero(fold == k)))
            residual_oof[fold == k] = predict_log_risk(module, replace(unseen, offset=None)).cpu().numpy()

        scored = np.isin(fold, np.arange(len(members)))
        if blend and offset is not None:
            # (1 - w) offset + w f = offset + w (f - offset): the same choice of w
            residual_oof = residual_oof - offset_oof
        if not members:
            weight, table = 0.0, None
        elif offset is None:
            weight, table = 1.0, None
        else:
            weight, table = choose_residual_weight(
                fold[scored], event[scored], time[scored], offset_oof[scored], residual_oof[scored],
                weights=self._residual_weights(),
            )
        # patients of folds without a member have only their offset (NaN without one)
        oof = offset_oof + weight * np.where(scored, residual_oof, 0.0)
        if offset is None:
            oof[~scored] = np.nan
        offset_weight = 1.0 - weight if blend and offset is not None else 1.0
        return {"offset_": offset, "offset_weight_": offset_weight, "residual_weight_": weight, "members_": members,
                "oof_risk_": oof, "inner_fold_": fold, "residual_cv_": table,
                "histories": histories}

    def _new_member(self, k, train, blocks, clinical, seed, warm, residual):
        """Member k before training: a copy of the fitted one (warm start), or a new network
        whose head starts at 0 (a residual of the offset) or whose clinical path starts at
        the ridge Cox fit on ``train``."""
        if warm:
            return copy.deepcopy(self.members_[k])  # the fitted one survives a failure
        module = self._build_module(blocks, clinical)
        if residual:
            nn.init.zeros_(module.head[-1].weight)  # f = 0: training starts at the offset
        elif clinical is not None and self.clinical_linear == "cox":
            self._init_clinical_path(module, train, seed + k)
        return module.to(train.present.device)

    def _run_kwargs(self, seed):
        return dict(
            max_iter=self.max_iter,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate_init,
            weight_decay=self.weight_decay,
            alignment_weight=self.alignment_weight,
            ties=self.ties,
            generator=torch.Generator().manual_seed(seed),
            scoring=self.scoring,
            n_iter_no_change=self.n_iter_no_change,
            tol=self.tol,
            verbose=self.verbose,
            autocast_dtype=torch.bfloat16 if self.precision == "bfloat16" else None,
        )

    def _train(self, module, train, validation, seed):
        return train_module(
            module, train, validation=validation,
            compiled=torch.compile(module) if self.compile else None, **self._run_kwargs(seed),
        )

    def _stacks(self):
        """Whether the members train as one stacked network (``stack_members``)."""
        return self.stack_members and not self.compile and not (self.member_stopping == "pooled" and self.early_stopping)

    def _member_indices(self, fold, k):
        """Training and early-stopping patients of member k (its out-of-fold ones are fold k).

        "own": trained on the folds other than k, stopped on fold k. "next": stopped on fold
        k + 1 (cyclically) and trained on the rest, so that fold k, where w is chosen, played
        no part in the member's training or in its stopping epoch."""
        stop = k
        if self.early_stopping and self.member_stopping == "next":
            stop = (k + 1) % (int(fold.max()) + 1)
        return np.flatnonzero((fold != k) & (fold != stop)), np.flatnonzero(fold == stop)

    def _train_stacked(self, members, data, indices, seed):
        """Train the members at once, each on its own (training, early-stopping) indices."""
        kwargs = self._run_kwargs(seed)
        kwargs.pop("generator")
        return train_stacked(
            members, data, [train for train, _ in indices],
            [stop for _, stop in indices] if self.early_stopping else None,
            generators=[torch.Generator().manual_seed(seed + k) for k in range(len(members))], **kwargs,
        )

    def _train_lockstep(self, members, parts, seed):
        """Train the members together; one early stopping on their pooled held-out score."""
        runs = [
            camlif_run(module, train, compiled=torch.compile(module) if self.compile else None,
                       **{**self._run_kwargs(seed + k), "verbose": self.verbose and k == 0})
            for k, (module, (train, _)) in enumerate(zip(members, parts))
        ]
        held_outs = [held_out for _, held_out in parts]
        score = pooled_score(
            members, held_outs,
            np.concatenate([h.host_event for h in held_outs]), np.concatenate([h.host_time for h in held_outs]),
            scoring=self.scoring, ties=self.ties,
        )
        return train_lockstep(runs, score, max_iter=self.max_iter, n_iter_no_change=self.n_iter_no_change, tol=self.tol)

    @staticmethod
    def _combine(fitted, data, Z):
        """Final log-risk ``v * offset(x) + w * mean over members of f_k(x)`` (float64) of
        the fitted attributes ``offset_``, ``offset_weight_`` (v), ``residual_weight_``
        (w) and ``members_`` in the mapping ``fitted``; ``data`` carries no offset."""
        offset, weight, members = fitted["offset_"], fitted["residual_weight_"], fitted["members_"]
        risk = np.zeros(len(data)) if offset is None else fitted["offset_weight_"] * offset.predict(Z)
        if weight != 0:
            f = torch.stack([predict_log_risk(m, data) for m in members]).mean(0)
            risk = risk + weight * f.cpu().numpy().astype(np.float64)
        return risk

    def _threads(self, device):
        if self.n_threads is None and device.type == "cpu":
            return 1
        return self.n_threads

    def _split_validation(self, data, event, seed):
        n = len(data)
        n_val = int(np.ceil(self.validation_fraction * n))
        stratify = event if min(event.sum(), (~event).sum()) >= 2 and n_val >= 2 else None
        if n_val < 2 or n - n_val < 2 or event.sum() < 2:
            raise ValueError(
                f"early_stopping needs at least 2 training and 2 validation samples and 2 "
                f"events; with {n} samples ({int(event.sum())} events) and "
                f"validation_fraction={self.validation_fraction} it cannot split. Use more "
                "data or early_stopping=False"
            )
        idx_train, idx_val = train_test_split(
            np.arange(n), test_size=n_val, stratify=stratify, random_state=seed
        )
        if not event[idx_train].any():
            raise ValueError("early_stopping: the training part has no event; use early_stopping=False")
        return data.take(torch.as_tensor(idx_train)), data.take(torch.as_tensor(idx_val))

    def _build_module(self, blocks, clinical):
        return CAMLIFNet(**self._network_kwargs(blocks, clinical))

    def _network_kwargs(self, blocks, clinical):
        if self.d_model % self.n_heads:
            raise ValueError(
                f"d_model={self.d_model} must be divisible by n_heads={self.n_heads}"
            )
        return dict(
            block_features=[b.n_outputs for b in blocks],
            groups=[b.groups for b in blocks],
            n_tokens=self.n_tokens,
            n_clinical=0 if clinical is None else clinical.n_outputs,
            d_model=self.d_model,
            n_heads=self.n_heads,
            n_encoder_layers=self.n_encoder_layers,
            rank=self.rank,
            hidden_size=self.hidden_size,
            dropout=self.dropout,
            cross_attention=self.cross_attention,
            second_fusion=self.second_fusion,
            clinical_linear=self.clinical_linear != "none",
        )

    def _init_clinical_path(self, module, train, seed, max_samples=10_000):
        """Start the clinical linear path at a ridge Cox fit on the training part.

        Above ``max_samples`` patients the fit uses a random subset of that size: it is only
        a starting point, and scikit-survival's Newton solver would otherwise dominate the
        fit time of large cohorts (4.7 s of a 13 s fit at n = 30,000).
        """
        from sksurv.linear_model import CoxPHSurvivalAnalysis

        Xc = train.clinical.cpu().numpy().astype(np.float64)
        y = np.empty(len(Xc), dtype=[("event", bool), ("time", float)])
        y["event"], y["time"] = train.host_event, train.host_time
        if len(Xc) > max_samples:
            keep = np.random.default_rng(seed).choice(len(Xc), max_samples, replace=False)
            Xc, y = Xc[keep], y[keep]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                cox = CoxPHSurvivalAnalysis(alpha=self.clinical_ridge, ties=self.ties).fit(Xc, y)
            except (ValueError, np.linalg.LinAlgError, ArithmeticError) as exc:
                warnings.warn(
                    f"the ridge Cox fit of the clinical block failed ({exc}); its linear path "
                    "starts at 0. Raise clinical_ridge to avoid this",
                    UserWarning,
                    stacklevel=3,
                )
                return
        coef = torch.as_tensor(cox.coef_, dtype=torch.float32)
        if torch.isfinite(coef).all():
            with torch.no_grad():
                module.clinical_linear.weight.copy_(coef.reshape(1, -1))

    # -- predict ----------------------------------------------------------------------------
    def predict(self, X):
        """Predicted log-risk (log hazard ratio); higher means higher risk.

        Parameters
        ----------
        X : DataFrame or array-like, shape (n_samples, n_features)

        Returns
        -------
        ndarray of float64, shape (n_samples,)
        """
        check_is_fitted(self, "members_")
        with torch_threads(self._threads(self.device_)):
            _, _, data, Z = self._inputs(X)
            return self._combine(self.__dict__, data, Z)

    def _inputs(self, X):
        """Check X against the fitted model; return (X, presence mask, device tensors,
        the offset's design or None)."""
        X = self._check_X(X, reset=False)
        arrays, present, clin = self._arrays(X, self._blocks, self._clinical_block)
        data = self._tensors(arrays, present, clin, self.device_)
        Z = self._design(arrays, clin, self._offset_splines) if self.offset_ is not None else None
        return X, present, data, Z

    def explain(self, X):
        """Per-patient contributions to the predicted log-risk, as a tidy DataFrame.

        Every value comes from the same computation as :meth:`predict` (the members'
        internals are captured with forward hooks during an ordinary forward pass).

        Parameters
        ----------
        X : DataFrame or array-like, shape (n_samples, n_features)

        Returns
        -------
        pandas.DataFrame, one row per patient (X's index), columns:

        - ``log_risk``: the prediction, equal to ``predict(X)``;
        - ``linear`` and ``network``: the linear offset's share and the network's share
          ``w * mean_k f_k(x)``, which add up to ``log_risk`` (``linear`` is absent for the
          plain network, whose whole output is ``network``);
        - ``linear__<block>`` (and ``linear__clinical``): the offset split by block, the sum
          of its coefficients times the block's standardised outputs; they add up to
          ``linear``;
        - ``present__<block>``: whether the modality was present (an absent one enters
          the offset at its training mean, i.e. ``linear__<block>`` = 0);
        - ``gate_original__<block>``, ``gate_enhanced__<block>``: the modal-attention
          gates of the original and cross-attention-enhanced class tokens, in (0, 1);
        - ``owc__<part>``: the mean optimal-weight-concatenation weight of each fused part
          (``lmf_original``, ``lmf_enhanced``, ``tokens_original``, ``tokens_enhanced``).

        Gates and weights are means over the members; they are absent when no network was
        trained (``residual_weights=[0]``), and with ``residual_weight_ == 0`` they are
        what the members computed but do not enter the risk.
        """
        check_is_fitted(self, "members_")
        with torch_threads(self._threads(self.device_)):
            X, present, data, Z = self._inputs(X)
            internals = [network_internals(m, data) for m in self.members_]
        index = X.index if hasattr(X, "index") else pd.RangeIndex(X.shape[0])
        names = self.modalities_
        columns = {}
        total = np.zeros(X.shape[0])
        if self.offset_ is not None:
            parts = self._blocks + ([self._clinical_block] if self._clinical_block is not None else [])
            start, linear = 0, {}
            splines = self._offset_splines.n_outputs if self._offset_splines is not None else 0
            for block in parts:
                stop = start + block.n_outputs + (splines if block.is_clinical else 0)
                key = "clinical" if block.is_clinical else block.name
                linear[f"linear__{key}"] = self.offset_weight_ * (Z[:, start:stop] @ self.offset_.coef_[start:stop])
                start = stop
            columns["linear"] = self.offset_weight_ * self.offset_.predict(Z)
            total = total + columns["linear"]
        network = np.zeros(X.shape[0])
        if internals and self.residual_weight_ != 0:
            network = self.residual_weight_ * np.mean([i["log_risk"] for i in internals], axis=0)
        columns["network"] = network
        columns = {"log_risk": total + network, **columns}
        if self.offset_ is not None:
            columns.update(linear)
        for m, name in enumerate(names):
            columns[f"present__{name}"] = present[:, m]
        for key in internals[0] if internals else ():
            if key == "log_risk":
                continue
            mean = np.mean([i[key] for i in internals], axis=0)
            if mean.ndim == 2:
                for m, name in enumerate(names):
                    columns[f"{key}__{name}"] = mean[:, m]
            else:
                columns[key.replace("owc_", "owc__", 1)] = mean
        return pd.DataFrame(columns, index=index)

    def predict_cumulative_hazard_function(self, X, return_array=False):
        """Cumulative hazard functions ``H(t | x) = H_0(t) exp(f(x))``.

        Parameters
        ----------
        X : DataFrame or array-like, shape (n_samples, n_features)
        return_array : bool, default=False
            True returns the values at ``unique_times_``, shape (n_samples, n_times);
            False an array of :class:`sksurv.functions.StepFunction`.
        """
        check_is_fitted(self, "members_")
        return self._predict_cumulative_hazard_function(self._baseline_model, self.predict(X), return_array)

    def predict_survival_function(self, X, return_array=False):
        """Survival functions ``S(t | x) = S_0(t) ^ exp(f(x))``.

        Parameters
        ----------
        X : DataFrame or array-like, shape (n_samples, n_features)
        return_array : bool, default=False
            True returns the values at ``unique_times_``, shape (n_samples, n_times);
            False an array of :class:`sksurv.functions.StepFunction`.
        """
        check_is_fitted(self, "members_")
        return self._predict_survival_function(self._baseline_model, self.predict(X), return_array)

    # -- persistence ------------------------------------------------------------------------
    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: the live __dict__ must keep module_
        state["_sksurv_camlif_version"] = __version__
        state.pop("module_", None)  # members_[0]
        members = state.pop("members_", None)
        if members is not None:
            state["_member_states"] = [module_state_to_cpu(m) for m in members]
            state["_module_kwargs"] = self._network_kwargs(self._blocks, self._clinical_block)
            state["device_"] = str(self.device_)
        return state

    def __setstate__(self, state):
        version = state.pop("_sksurv_camlif_version", None)
        if version != __version__:
            warnings.warn(
                f"this CAMLIFSurvival was pickled with sksurv_camlif {version}; this is "
                f"{__version__}. It may not load or predict correctly",
                UserWarning,
                stacklevel=2,
            )
        member_states = state.pop("_member_states", None)
        module_kwargs = state.pop("_module_kwargs", None)
        super().__setstate__(state)
        if member_states is not None:
            device = restore_device(state["device_"])
            members = []
            for member_state in member_states:
                module = CAMLIFNet(**module_kwargs)
                module.load_state_dict(member_state)
                members.append(module.to(device).eval())
            self.members_ = members
            self.module_ = members[0] if members else None
            self.device_ = device

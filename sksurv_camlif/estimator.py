"""CAMLIFSurvival: the scikit-survival estimator around the CA-MLIF network."""

import sys
import time as time_module
from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from sksurv.base import SurvivalAnalysisMixin
from sksurv.linear_model.coxph import BreslowEstimator

from ._params import NamedPartsMixin, resolve_offset
from ._persistence import MembersPickleMixin
from ._validation import check_X, check_survival_y
from .device import DEVICE_CONSTRAINT, resolve_device, seeded, torch_threads
from .explain import explanation_frame, linear_shares, network_internals, training_means
from .modality import block_outputs, fit_blocks, parse_spec, resolve_token_groups
from .protocol import (RESIDUAL_WEIGHTS, blend_out_of_fold, fit_members, inner_folds, member_indices,
                       members_log_risk, validation_split)
from .training import History, SurvivalTensors

__all__ = ["CAMLIFSurvival"]


class CAMLIFSurvival(NamedPartsMixin, MembersPickleMixin, SurvivalAnalysisMixin, BaseEstimator):
    """Multimodal deep Cox model CA-MLIF (cross-attention + low-rank interaction fusion).

    Each modality block (e.g. genomics, copy-number, radiomics) is cut into tokens and
    encoded by its own self-attention encoder; a bidirectional cross-attention with global
    contexts exchanges information between the blocks; modal attention, low-rank
    multimodal fusion (LMF [2]_) and optimal weight concatenation fuse the original and
    enhanced representations; the clinical block joins at the head (An et al., 2025 [1]_).

    By default the networks are blended with a linear Cox model, so that the estimator
    starts from the best linear model the data support and keeps only what the networks
    measurably add::

        log-risk(x) = (1 - w) * offset(x) + w * mean_k f_k(x)

    1. ``offset`` (default :class:`~sksurv_camlif.protocol.CoxnetOffset`, an elastic-net Cox
       model of every block's outputs chosen by inner cross-validation) is fitted on ``cv``
       inner folds; its out-of-fold predictor is what ``w`` is chosen on, the model refitted
       on all training patients is used to predict.
    2. ``n_members`` networks f_k: member k trains on the inner folds other than k and
       k + 1 and early-stops on fold k + 1, so that its prediction on fold k is out of fold.
    3. ``w`` is chosen among ``residual_weights`` from every fold's out-of-fold Harrell's C,
       with a one-standard-error rule toward 0: where the networks add nothing measurable,
       the estimator *is* the linear model.

    ``offset=None, n_members=1, alignment_weight=0.5`` (``presets.PAPER_NETWORK``): the plain network.

    Parameters
    ----------
    modalities : list of (str, transformer, columns) tuples
        The modality blocks, as in :class:`~sklearn.compose.ColumnTransformer`: a unique
        name, a transformer (or "passthrough" / "drop") fitted on the block inside ``fit``,
        and the columns (name, list of names, int, list of ints, slice, boolean mask or a
        callable such as :func:`~sklearn.compose.make_column_selector`). Blocks must not
        overlap. A patient whose every column of a block is NaN has that modality absent.
    clinical : columns or (transformer, columns), default=None
        Clinical features that join at the risk head, with a linear term that starts at a
        ridge Cox model of the clinical block. Must be free of NaN after its transformer.
    token_groups : dict of {str: list of column groups}, default=None
        Explicit feature groups per modality, one token per group. A group lists column
        names of the block (transformer keeping one output per column) or positions in the
        block's transformed output.
    n_tokens, d_model, n_heads, n_encoder_layers : int, default=4, 32, 4, 2
        Tokens a block without explicit groups is cut into (contiguous groups); token width;
        attention heads (``d_model`` must be divisible by it); self-attention layers per
        modality encoder.
    rank, hidden_size : int, default=4, 64
        Rank of the low-rank multimodal fusion; width of the fusion MLP and the risk head.
    dropout : float, default=0.1
    cross_attention, second_fusion : bool, default=True
        False: the paper's "without cross-attention", "without second fusion" ablations.
    offset : "coxnet", offset object or None, default="coxnet"
        The linear model the networks are blended with. "coxnet" stands for
        :class:`~sksurv_camlif.protocol.CoxnetOffset` with its defaults; its parameters are
        reached as ``offset__<param>`` (e.g. ``offset__l1_ratio``). Any object with the
        offset interface (:mod:`sksurv_camlif.protocol.offset`) can be given, e.g.
        :class:`~sksurv_camlif.protocol.ClinicalRidgeOffset`. None: networks only.
    n_members : int, default=5
        Networks trained, member k out of fold on inner fold k (at most ``cv``). With
        ``offset=None`` and 1, the plain network with its own validation split.
    cv : int, default=5
        Inner folds (stratified by event) of the offset, its cross-fitting and the members;
        at least 3 with early stopping.
    residual_weights : array-like of float in [0, 1], default=(0, 0.25, 0.5, 1)
        Candidate weights w of the networks. ``[0]`` fits the offset only (no network is
        trained); a single value fixes w.
    alignment_weight : float, default=0
        Weight of the paper's alignment loss (eq. 7; acts only with cross-attention). The
        paper uses 0.5.
    ties : {"breslow", "efron"}, default="breslow"
        Handling of tied event times in the Cox loss and the clinical Cox fits.
    max_iter, batch_size : int, default=100, 64
        Maximum number of epochs; mini-batch size (each batch holds events).
    learning_rate_init, weight_decay : float, default=1e-3, 1e-4
        AdamW's learning rate and decoupled weight decay.
    early_stopping : bool, default=True
        Stop each network when its held-out Harrell's C has not improved by ``tol`` for
        ``n_iter_no_change`` epochs and keep its best weights (the initial ones included).
        False trains exactly ``max_iter`` epochs.
    validation_fraction : float, default=0.15
        Held-out share of the plain network's early stopping (stratified by event).
    n_iter_no_change, tol : int, float, default=10, 1e-4
    device : {"auto", "cpu", "cuda", "cuda:N"}, default="auto" (CUDA when available)
    precision : {"float32", "bfloat16"}, default="float32"
        "bfloat16" runs the forward pass under autocast (mixed precision, for GPUs with
        bf16 support); the loss and the weights stay float32.
    n_threads : int, default=None
        Torch intra-op threads during fit and predict (restored afterwards). None means 1
        on the CPU (the network is small: parallelise over fits with ``n_jobs``
        instead); on CUDA, None leaves torch's setting alone.
    random_state : int, RandomState instance or None, default=None
        Seeds the weights, dropout, the folds and the batch order (not torch's or numpy's
        global RNG).
    verbose : int, default=0 (1: progress of the offset and a bar of the members' training)
    warm_start : bool, default=False
        Continue training the fitted members (keeping the fitted block transformers; the
        optimizer starts afresh); the folds, the offset and w are refitted.

    Attributes
    ----------
    offset_ : offset or None
        The fitted offset (``coef_``, ``feature_names_``, ``cv_results_``, ``oof_``...).
    members_ : list of CAMLIFNet
        The trained networks (on ``device_``); empty when no network was trained.
    module_ : CAMLIFNet or None
        ``members_[0]``.
    offset_weight_, residual_weight_ : float
        ``1 - w`` (0 without offset) and w.
    residual_cv_ : dict or None
        ``weights`` and the held-out C of each inner fold for each (``fold_c``).
    oof_risk_ : ndarray of shape (n_samples,) or None
        Out-of-fold log-risk of every training patient; None for the plain network.
    inner_fold_ : ndarray of int or None
        Inner fold of every training patient.
    histories_ : list of History
        Each member's training record (:class:`~sksurv_camlif.training.History`).
    member_best_epochs_, member_n_iter_ : list of int
        Per member, the epoch whose weights were kept (0: the initial ones), epochs run.
    n_iter_, loss_curve_, validation_scores_, best_validation_score_, best_epoch_
        The first member's record, in scikit-learn's words (``validation_scores_`` is None
        without early stopping).
    history_ : list of dict, the first member's ``{"epoch", "loss", "validation_score", "time"}``
    interrupted_ : bool, training was interrupted (Ctrl-C; the best weights so far were kept)
    device_ : torch.device
    modalities_ : list of str, the modalities' names
    n_features_in_, feature_names_in_ : int, ndarray of str (when X has string column names)
    unique_times_ : ndarray
        Unique training times (the survival functions' ``return_array=True`` grid).
    cum_baseline_hazard_, baseline_survival_ : StepFunction
        Breslow estimates on the training data's final log-risk.

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
        "offset": "no_validation",  # resolved and checked in fit
        "n_members": [Interval(Integral, 1, None, closed="left")],
        "cv": [Interval(Integral, 2, None, closed="left")],
        "residual_weights": ["array-like"],
        "alignment_weight": [Interval(Real, 0, None, closed="left")],
        "ties": [StrOptions({"breslow", "efron"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "device": [DEVICE_CONSTRAINT],
        "precision": [StrOptions({"float32", "bfloat16"})],
        "n_threads": [None, Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    def __init__(self, modalities, *, clinical=None, token_groups=None, n_tokens=4, d_model=32, n_heads=4,
                 n_encoder_layers=2, rank=4, hidden_size=64, dropout=0.1, cross_attention=True,
                 second_fusion=True, offset="coxnet", n_members=5, cv=5, residual_weights=RESIDUAL_WEIGHTS,
                 alignment_weight=0.0, ties="breslow", max_iter=100, batch_size=64, learning_rate_init=1e-3,
                 weight_decay=1e-4, early_stopping=True, validation_fraction=0.15, n_iter_no_change=10, tol=1e-4,
                 device="auto", precision="float32", n_threads=None, random_state=None, verbose=0,
                 warm_start=False):
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
        self.offset = offset
        self.n_members = n_members
        self.cv = cv
        self.residual_weights = residual_weights
        self.alignment_weight = alignment_weight
        self.ties = ties
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.device = device
        self.precision = precision
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # whole-block NaN = absent modality
        tags.input_tags.string = True  # through the block transformers
        tags.non_deterministic = False
        return tags

    # -- checks -----------------------------------------------------------------------
    def _check_settings(self, warm):
        """The parameters that depend on each other; the offset object."""
        weights = np.asarray(self.residual_weights, dtype=np.float64).ravel()
        if weights.size == 0 or not np.isfinite(weights).all() or (weights < 0).any() or (weights > 1).any():
            raise ValueError(f"residual_weights must be a non-empty list of values in [0, 1], got {self.residual_weights!r}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} must be divisible by n_heads={self.n_heads}")
        offset = resolve_offset(self.offset)
        if offset is not None and not all(hasattr(offset, m) for m in ("fit", "predict", "contributions", "get_params")):
            raise TypeError(
                f"offset={self.offset!r} is not an offset: it needs get_params, fit, predict and contributions "
                "(see sksurv_camlif.protocol.offset)"
            )
        if not self._plain() and self.n_members > self.cv:
            raise ValueError(f"n_members={self.n_members} cannot exceed cv={self.cv}: member k is out of fold on inner fold k")
        if not self._plain() and self.early_stopping and self.cv < 3:
            raise ValueError(
                f"early stopping needs cv >= 3, got cv={self.cv}: member k early-stops on inner fold k + 1 "
                "and trains on the folds other than k and k + 1"
            )
        if warm and len(self.members_) != self.n_members:
            raise ValueError(
                f"warm_start: the fitted model has {len(self.members_)} member(s) but n_members="
                f"{self.n_members}; set warm_start=False to refit"
            )
        return tuple(float(v) for v in np.unique(weights)), None if offset is None else clone(offset)

    def _plain(self):
        """The paper's plain network: no offset, one member, its own validation split."""
        return self.offset is None and self.n_members == 1

    # -- fit ----------------------------------------------------------------------------
    def fit(self, X, y):
        """Fit the offset, the network members and the Breslow baseline.

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

    def _fit(self, X, y):
        warm = self.warm_start and bool(getattr(self, "members_", None))  # a linear-only fit refits
        X = check_X(self, X, reset=not warm)
        event, time = check_survival_y(X, y)
        weights, offset = self._check_settings(warm)
        feature_names = getattr(self, "feature_names_in_", None)
        if warm:
            blocks, clinical, outputs = self._blocks, self._clinical_block, None
        else:
            blocks, clinical, outputs = fit_blocks(X, parse_spec(self.modalities, self.clinical), feature_names)
            resolve_token_groups(blocks, self.token_groups, feature_names)
        device = resolve_device(self.device)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        settings = dict(network_kwargs=self._network_kwargs(blocks, clinical), training=self._training(),
                        seed=seed, early_stopping=self.early_stopping, warm=self.members_ if warm else None)

        with torch_threads(self._threads(device)), seeded(device, seed):
            out = block_outputs(X, blocks, clinical, outputs, feature_names, named=True)
            data = SurvivalTensors.from_outputs(out, device, event, time)
            if self._plain():
                fitted = self._fit_plain(data, settings)
            else:
                fitted = self._fit_protocol(out, data, offset, weights, settings)
            risk, network = self._log_risk(fitted, out, data)
            fitted["_explain_means"] = training_means(fitted["offset_"], fitted["offset_weight_"], out, risk, network)
        if not np.isfinite(risk).all():
            raise FloatingPointError(
                "the trained network predicts NaN or inf on the training data; lower "
                "learning_rate_init or check the inputs for extreme values"
            )
        baseline = BreslowEstimator().fit(risk, event, time)

        # Everything succeeded: only now replace the fitted state.
        previous = getattr(self, "histories_", None) if warm else None
        histories = fitted.pop("histories")
        self._blocks, self._clinical_block = blocks, clinical
        self.__dict__.update(fitted)
        self.module_ = fitted["members_"][0] if fitted["members_"] else None
        self.device_, self.modalities_ = device, [b.name for b in blocks]
        self._baseline_model = baseline
        self.unique_times_ = baseline.unique_times_
        self.cum_baseline_hazard_ = baseline.cum_baseline_hazard_
        self.baseline_survival_ = baseline.baseline_survival_
        self.member_best_epochs_, self.member_n_iter_ = [h.best_epoch for h in histories], [h.n_iter for h in histories]
        self.histories_ = [h.continued(previous[k] if previous else None) for k, h in enumerate(histories)]
        self.__dict__.update((self.histories_[0] if histories else History()).sklearn_attributes(self.early_stopping))
        self.interrupted_ = any(h.interrupted for h in histories)
        return self

    def _fit_plain(self, data, settings):
        """The plain network: one member, early-stopped on a ``validation_fraction`` split."""
        rows = np.arange(len(data))
        indices = [(rows, rows[:0])]
        if self.early_stopping:
            indices = [validation_split(data.host_event, self.validation_fraction, settings["seed"])]
        members = fit_members(data, indices, **settings)
        return {"offset_": None, "offset_weight_": 0.0, "residual_weight_": 1.0, "members_": members.networks,
                "oof_risk_": None, "inner_fold_": None, "residual_cv_": None, "histories": members.histories}

    def _fit_protocol(self, out, data, offset, weights, settings):
        """Cross-fitted offset, members out of fold on the inner folds, w on out-of-fold C."""
        event, time = data.host_event, data.host_time
        fold = inner_folds(event, self.cv, settings["seed"])
        offset_oof = None
        if offset is not None:
            start = time_module.perf_counter()
            offset_oof = offset.fit(out, event, time, fold=fold, ties=self.ties).oof_
            if self.verbose:  # the offset's stage has no bar: say what it did
                print(f"CAMLIFSurvival: offset {type(offset).__name__} fitted on {self.cv} inner folds in "
                      f"{time_module.perf_counter() - start:.1f} s", file=sys.stderr)
        # all weights 0 (and an offset): the linear model alone, no network to train
        n_members = 0 if offset is not None and max(weights) == 0 else self.n_members
        networks, histories, member_oof = [], [], np.full(len(data), np.nan)
        if n_members:
            indices = [member_indices(fold, k, self.early_stopping) for k in range(n_members)]
            networks, histories, member_oof = fit_members(data, indices, fold=fold, **settings)
        weight, table, oof = blend_out_of_fold(fold, event, time, offset_oof, member_oof, weights)
        return {"offset_": offset, "offset_weight_": 1.0 - weight if offset is not None else 0.0,
                "residual_weight_": weight, "members_": networks, "oof_risk_": oof, "inner_fold_": fold,
                "residual_cv_": table, "histories": histories}

    def _network_kwargs(self, blocks, clinical):
        return dict(block_features=[b.n_outputs for b in blocks], groups=[b.groups for b in blocks],
                    n_tokens=self.n_tokens, n_clinical=0 if clinical is None else clinical.n_outputs,
                    d_model=self.d_model, n_heads=self.n_heads, n_encoder_layers=self.n_encoder_layers,
                    rank=self.rank, hidden_size=self.hidden_size, dropout=self.dropout,
                    cross_attention=self.cross_attention, second_fusion=self.second_fusion)

    def _training(self):
        return dict(max_iter=self.max_iter, batch_size=self.batch_size, learning_rate=self.learning_rate_init,
                    weight_decay=self.weight_decay, n_iter_no_change=self.n_iter_no_change, tol=self.tol,
                    verbose=self.verbose, alignment_weight=self.alignment_weight, ties=self.ties,
                    autocast_dtype=torch.bfloat16 if self.precision == "bfloat16" else None)

    def _threads(self, device):
        return 1 if self.n_threads is None and device.type == "cpu" else self.n_threads

    @staticmethod
    def _log_risk(fitted, out, data, member_risks=None):
        """``(1 - w) offset(x) + w mean_k f_k(x)`` (float64) of the fitted state ``fitted`` and
        the networks' share (zeros without network); ``member_risks``: already computed."""
        offset, weight = fitted["offset_"], fitted["residual_weight_"]
        risk = np.zeros(len(data)) if offset is None else fitted["offset_weight_"] * offset.predict(out)
        network = np.zeros(len(data))
        if weight != 0:
            network = weight * members_log_risk(fitted["members_"], data, member_risks)
            risk = risk + network
        return risk, network

    # -- predict ----------------------------------------------------------------------------
    def _inputs(self, X):
        """X checked against the fitted model, its block outputs and device tensors."""
        X = check_X(self, X, reset=False)
        out = block_outputs(X, self._blocks, self._clinical_block)
        return X, out, SurvivalTensors.from_outputs(out, self.device_)

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
            _, out, data = self._inputs(X)
            return self._log_risk(self.__dict__, out, data)[0]

    def explain(self, X):
        """Per-patient contributions to the predicted log-risk, as a tidy DataFrame.

        Every value comes from the same computation as :meth:`predict` (the members'
        internals are captured with forward hooks during an ordinary forward pass).

        Parameters
        ----------
        X : DataFrame or array-like, shape (n_samples, n_features)

        Returns
        -------
        pandas.DataFrame, one row per patient (X's index): ``log_risk`` (``predict(X)``),
        ``baseline`` (the training patients' mean log-risk), the offset's share ``linear``
        (``(1 - w) offset(x)``) and by block ``linear__<block>``, ``linear__clinical``, the
        networks' share ``network`` (``w mean_k f_k(x)``), all centred on the training
        patients' mean so that ``baseline + linear + network == log_risk``;
        ``present__<block>``; the members' mean modal-attention gates
        ``gate_original__<block>``, ``gate_enhanced__<block>`` and fusion weights
        ``owc__<part>`` (absent when no network was trained). The user guide's glossary
        says what each column means for a patient.
        """
        check_is_fitted(self, "members_")
        with torch_threads(self._threads(self.device_)):
            X, out, data = self._inputs(X)
            internals = [network_internals(m, data) for m in self.members_]
            # their log-risks are the float32 values predict() averages: no second forward pass
            risks = [torch.as_tensor(i["log_risk"], dtype=torch.float32, device=self.device_) for i in internals]
            risk, network = self._log_risk(self.__dict__, out, data, risks)
        means = self._explain_means
        linear, parts = linear_shares(self.offset_, self.offset_weight_, out)
        if linear is not None:
            linear = linear - means["linear"]
            parts = {key: value - means[key] for key, value in parts.items()}
        index = X.index if hasattr(X, "index") else pd.RangeIndex(X.shape[0])
        return explanation_frame(index, self.modalities_, out.present, risk, means["baseline"], linear, parts,
                                 network - means["network"], internals)

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
        """Survival functions ``S(t | x) = S_0(t) ^ exp(f(x))``; parameters and return values
        as :meth:`predict_cumulative_hazard_function`'s."""
        check_is_fitted(self, "members_")
        return self._predict_survival_function(self._baseline_model, self.predict(X), return_array)

    # -- model files --------------------------------------------------------------------------

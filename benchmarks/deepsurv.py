"""DeepSurv-style MLP Cox model (Katzman et al., 2018), the cheapest neural peer of CA-MLIF.

A plain multilayer perceptron ``x -> log-risk`` trained with the negative Cox partial
log-likelihood, written with the package's own pieces so that it is a fair, like-for-like
comparison row in ``benchmarks/speed.py``:

- the loss :func:`sksurv_camlif.losses.cox_ph_loss` (sorted reverse log-cumsum-exp, no
  n x n risk matrix, no host synchronisation);
- the training engine :func:`sksurv_camlif.training.train_networks` (one network, K = 1)
  with the package's event-balanced mini-batches (every batch holds at least one event),
  AdamW, epoch times and early stopping (same rule as ``CAMLIFSurvival``: best weights
  restored, the initial weights a candidate);
- :func:`sksurv_camlif.device.resolve_device` for ``device``;
- scikit-survival's :class:`~sksurv.linear_model.coxph.BreslowEstimator` for the baseline
  hazard, hence survival and cumulative hazard functions.

The estimator takes a numeric ``X`` only: put the preprocessing (imputation, scaling,
encoding) in a :class:`~sklearn.pipeline.Pipeline` in front of it, e.g.::

    make_pipeline(StandardScaler(), DeepSurvMLP(random_state=0))

Not part of the ``sksurv_camlif`` package; import it from this folder
(``sys.path.insert(0, "benchmarks")``; ``from deepsurv import DeepSurvMLP``).

References
----------
Katzman, J. L. et al. "DeepSurv: personalized treatment recommender system using a Cox
proportional hazards deep neural network." BMC Medical Research Methodology 18, 24 (2018).
"""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data
from sksurv.base import SurvivalAnalysisMixin
from sksurv.linear_model.coxph import BreslowEstimator
from torch.func import functional_call, vmap
from sksurv.util import check_array_survival
from torch import nn

from sksurv_camlif.device import (
    DEVICE_CONSTRAINT,
    module_state_to_cpu,
    resolve_device,
    restore_device,
    seeded,
    torch_threads,
)
from sksurv_camlif.losses import cox_ph_loss
from sksurv_camlif.training import SurvivalTensors, train_networks

__all__ = ["DeepSurvMLP"]

_TOL = 1e-4  # minimal improvement of the validation C-index that resets the patience
_PREDICT_CHUNK = 65536


class _MLP(nn.Module):
    """``[Linear -> ReLU -> Dropout] * len(hidden_sizes) -> Linear(., 1)``."""

    def __init__(self, n_features, hidden_sizes, dropout):
        super().__init__()
        layers, width = [], n_features
        for h in hidden_sizes:
            layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(dropout)]
            width = h
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)
        self.n_features = n_features
        self.hidden_sizes = tuple(hidden_sizes)
        self.dropout = dropout

    def forward(self, x):
        return self.net(x).squeeze(-1)


class _MLPObjective:
    """The MLP's forward pass and Cox loss on stacked parameters, for
    :func:`~sksurv_camlif.training.train_networks` (as ``CAMLIFObjective`` for CA-MLIF)."""

    def __init__(self, module, buffers, data):
        self.base, self.data = module, data

        def one(params, x):
            return functional_call(self.base, {**params, **buffers}, (x,))

        self._forward = vmap(one, randomness="different")

    def _log_risk(self, params, idx, training):
        self.base.train(training)
        return self._forward(params, self.data.blocks[0][idx])

    def losses(self, params, idx, mask):
        log_risk = self._log_risk(params, idx, training=True)
        time = torch.where(mask, self.data.time[idx], torch.full_like(self.data.time[idx], -torch.inf))
        return vmap(cox_ph_loss)(log_risk, time, self.data.event[idx] & mask)

    @torch.no_grad()
    def predict(self, params, idx):
        return torch.cat([self._log_risk(params, idx[:, i : i + _PREDICT_CHUNK], training=False)
                          for i in range(0, idx.shape[1], _PREDICT_CHUNK)], dim=1)


class DeepSurvMLP(SurvivalAnalysisMixin, BaseEstimator):
    """DeepSurv: a multilayer perceptron trained with the Cox partial likelihood.

    Parameters
    ----------
    hidden_sizes : tuple of int, default=(64, 64)
        Widths of the hidden layers (ReLU, then dropout). ``()`` is a linear Cox model.
    dropout : float, default=0.1
    max_iter : int, default=100
        Maximum number of epochs.
    batch_size : int, default=64
        Mini-batch size; batches are formed so that each holds at least one event.
    learning_rate_init : float, default=1e-3
        AdamW learning rate.
    weight_decay : float, default=1e-4
        AdamW decoupled weight decay.
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the training data (stratified by event) and stop
        when its Harrell's C has not improved for ``n_iter_no_change`` epochs; the best
        weights are restored. False trains exactly ``max_iter`` epochs.
    validation_fraction : float, default=0.15
    n_iter_no_change : int, default=10
    random_state : int, RandomState instance or None, default=None
        Seeds the weights, dropout, the validation split and the batch order; torch's and
        numpy's global RNG states are left untouched.
    device : {"auto", "cpu", "cuda", "cuda:N"}, default="auto"
    n_threads : int, default=None
        Torch intra-op threads during fit and predict (restored afterwards).

    Attributes
    ----------
    module_ : torch.nn.Module
    device_ : torch.device
    n_features_in_ : int
    n_iter_ : int
    loss_curve_ : list of float
    epoch_times_ : list of float
        Seconds of training per epoch (validation excluded).
    validation_scores_ : list of float or None
    best_validation_score_ : float or None
        Includes the initial weights' score (epoch 0), as ``CAMLIFSurvival``.
    unique_times_, cum_baseline_hazard_, baseline_survival_
        From the Breslow estimator fitted on the final network's log-risk.
    """

    _parameter_constraints = {
        "hidden_sizes": [tuple, list],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "device": [DEVICE_CONSTRAINT],
        "n_threads": [None, Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        hidden_sizes=(64, 64),
        dropout=0.1,
        max_iter=100,
        batch_size=64,
        learning_rate_init=1e-3,
        weight_decay=1e-4,
        early_stopping=True,
        validation_fraction=0.15,
        n_iter_no_change=10,
        random_state=None,
        device="auto",
        n_threads=None,
    ):
        self.hidden_sizes = hidden_sizes
        self.dropout = dropout
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.device = device
        self.n_threads = n_threads

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags

    # ------------------------------------------------------------------------------ fit
    def fit(self, X, y):
        """Train the network, then the Breslow baseline on its log-risk.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), numeric, no NaN
        y : structured array (event, time)

        Returns
        -------
        self
        """
        self._validate_params()
        hidden = tuple(int(h) for h in self.hidden_sizes)
        if any(h < 1 for h in hidden):
            raise ValueError(f"hidden_sizes must hold positive integers, got {self.hidden_sizes!r}")
        X = validate_data(self, X, dtype=np.float32, ensure_min_samples=2)
        event, time = check_array_survival(X, y)
        event = np.ascontiguousarray(event, dtype=bool)
        time = np.ascontiguousarray(time, dtype=np.float64)
        if not event.any():
            raise ValueError("y holds no event: the Cox partial likelihood is undefined")

        device = resolve_device(self.device)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

        with torch_threads(self.n_threads), seeded(device, seed):
            # everything goes to the device once; batches are index_select on the device
            Xt = torch.as_tensor(X).to(device)
            tt = torch.as_tensor(time).to(device)  # float64: keeps ties exact
            et = torch.as_tensor(event).to(device)
            idx_train, idx_val = self._split(event, seed)
            module = _MLP(X.shape[1], hidden, float(self.dropout)).to(device)
            history = self._train(module, Xt, tt, et, event, time, idx_train, idx_val, seed)
            risk = self._log_risk(module, Xt)
        if not np.isfinite(risk).all():
            raise FloatingPointError("the trained network predicts NaN or inf on the training data")

        self.module_ = module
        self.device_ = device
        self._baseline_model = BreslowEstimator().fit(risk, event, time)
        self.unique_times_ = self._baseline_model.unique_times_
        self.cum_baseline_hazard_ = self._baseline_model.cum_baseline_hazard_
        self.baseline_survival_ = self._baseline_model.baseline_survival_
        self.loss_curve_ = history.loss
        self.n_iter_ = history.n_iter
        self.epoch_times_ = history.epoch_time
        self.validation_scores_ = history.validation_score if self.early_stopping else None
        self.best_validation_score_ = history.best_validation_score
        return self

    def _split(self, event, seed):
        n = event.shape[0]
        if not self.early_stopping:
            return np.arange(n), None
        n_val = int(np.ceil(self.validation_fraction * n))
        if n_val < 2 or n - n_val < 2:
            raise ValueError(
                f"early_stopping cannot split {n} samples with validation_fraction="
                f"{self.validation_fraction}; use more data or early_stopping=False"
            )
        stratify = event if min(event.sum(), (~event).sum()) >= 2 else None
        idx_train, idx_val = train_test_split(
            np.arange(n), test_size=n_val, stratify=stratify, random_state=seed
        )
        if not event[idx_train].any():
            raise ValueError("early_stopping: the training part has no event; use early_stopping=False")
        return idx_train, idx_val

    def _train(self, module, Xt, tt, et, event, time, idx_train, idx_val, seed):
        data = SurvivalTensors([Xt], torch.ones(len(Xt), 1, dtype=torch.bool, device=Xt.device), None,
                               tt, et, time, event)
        (history,) = train_networks(
            [module], data, [idx_train], None if idx_val is None else [idx_val], objective=_MLPObjective,
            max_iter=self.max_iter, batch_size=self.batch_size, learning_rate=self.learning_rate_init,
            weight_decay=self.weight_decay, generators=[torch.Generator().manual_seed(seed)],
            n_iter_no_change=self.n_iter_no_change, tol=_TOL, desc="DeepSurvMLP",
        )
        return history

    @staticmethod
    @torch.no_grad()
    def _log_risk(module, Xt):
        was_training = module.training
        module.eval()
        try:
            out = [module(Xt[i : i + _PREDICT_CHUNK]) for i in range(0, Xt.shape[0], _PREDICT_CHUNK)]
        finally:
            module.train(was_training)
        return torch.cat(out).cpu().numpy().astype(np.float64)

    # -------------------------------------------------------------------------- predict
    def predict(self, X):
        """Predicted log-risk; higher means higher risk.

        Returns
        -------
        ndarray of float64, shape (n_samples,)
        """
        check_is_fitted(self, "module_")
        X = validate_data(self, X, dtype=np.float32, reset=False)
        with torch_threads(self.n_threads):
            return self._log_risk(self.module_, torch.as_tensor(X).to(self.device_))

    def predict_cumulative_hazard_function(self, X, return_array=False):
        """Cumulative hazard functions ``H_0(t) exp(f(x))`` (Breslow baseline)."""
        check_is_fitted(self, "module_")
        return self._predict_cumulative_hazard_function(self._baseline_model, self.predict(X), return_array)

    def predict_survival_function(self, X, return_array=False):
        """Survival functions ``S_0(t) ^ exp(f(x))`` (Breslow baseline)."""
        check_is_fitted(self, "module_")
        return self._predict_survival_function(self._baseline_model, self.predict(X), return_array)

    # ---------------------------------------------------------------------- persistence
    def __getstate__(self):
        # a copy: object.__getstate__ returns the live __dict__ (popping from it would
        # unfit this very instance)
        state = dict(super().__getstate__())
        module = state.pop("module_", None)
        if module is not None:
            state["_module_state"] = module_state_to_cpu(module)
            state["_module_args"] = (module.n_features, module.hidden_sizes, module.dropout)
            state["device_"] = str(self.device_)
        return state

    def __setstate__(self, state):
        module_state = state.pop("_module_state", None)
        module_args = state.pop("_module_args", None)
        super().__setstate__(state)
        if module_state is not None:
            device = restore_device(state["device_"])
            module = _MLP(*module_args)
            module.load_state_dict(module_state)
            self.module_ = module.to(device).eval()
            self.device_ = device

"""The members: K CA-MLIF networks trained at once on given (training, early-stopping) rows.

Knows no estimator: the data, the rows, the network's and the training's settings in; the
trained networks, their records and their out-of-fold predictions out.
"""

import copy
import functools
import warnings
from typing import List, NamedTuple, Optional

import numpy as np
import torch

from ..nn import CAMLIFNet
from ..training import CAMLIFObjective, History, predict_log_risk, train_networks

__all__ = ["CLINICAL_INIT_RIDGE", "Members", "new_network", "fit_members", "members_log_risk"]

#: Ridge penalty of the Cox fit the clinical linear path starts at (a starting point only).
CLINICAL_INIT_RIDGE = 1.0


class Members(NamedTuple):
    """Trained members.

    Attributes
    ----------
    networks : list of CAMLIFNet
    histories : list of History
    oof : ndarray, shape (n,), or None
        Each training patient's log-risk predicted by the member that never saw it (its
        ``fold``), NaN in folds without a member; None when no fold was given.
    """

    networks: list
    histories: List[History]
    oof: Optional[np.ndarray]


def new_network(network_kwargs, train, seed, ties="breslow", max_samples=10_000):
    """A new CAMLIFNet whose clinical linear path starts at a ridge Cox fit on ``train``.

    Above ``max_samples`` patients the Cox fit uses a random subset of that size: it is only
    a starting point, and scikit-survival's Newton solver would otherwise dominate the fit
    time of large cohorts.
    """
    module = CAMLIFNet(**network_kwargs)
    if train.clinical is not None and module.clinical_linear is not None:
        _start_at_ridge_cox(module, train, seed, ties, max_samples)
    return module.to(train.present.device)


def _start_at_ridge_cox(module, train, seed, ties, max_samples):
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
            cox = CoxPHSurvivalAnalysis(alpha=CLINICAL_INIT_RIDGE, ties=ties).fit(Xc, y)
        except (ValueError, np.linalg.LinAlgError, ArithmeticError) as exc:
            warnings.warn(
                f"the ridge Cox fit of the clinical block failed ({exc}); its linear path starts at 0",
                UserWarning,
                stacklevel=4,
            )
            return
    coef = torch.as_tensor(cox.coef_, dtype=torch.float32)
    if torch.isfinite(coef).all():
        with torch.no_grad():
            module.clinical_linear.weight.copy_(coef.reshape(1, -1))


def fit_members(data, indices, *, network_kwargs, training, seed, early_stopping=True, warm=None, fold=None):
    """Build (or continue) and train one member per (training, early-stopping) rows.

    Parameters
    ----------
    data : SurvivalTensors with targets
    indices : list of (ndarray, ndarray), each member's training and early-stopping rows
    network_kwargs : dict, CAMLIFNet's arguments
    training : dict
        :func:`~sksurv_camlif.training.train_networks`'s settings (``max_iter``,
        ``batch_size``, ``learning_rate``, ``weight_decay``, ``n_iter_no_change``, ``tol``,
        ``verbose``) and the objective's (``alignment_weight``, ``ties``,
        ``autocast_dtype``).
    seed : int
        Member k's clinical start and batch order use ``seed + k``; call under
        :func:`~sksurv_camlif.device.seeded` (weights and dropout use torch's global RNG).
    early_stopping : bool
    warm : list of CAMLIFNet, optional
        Fitted members to continue (copied: they survive a failure).
    fold : ndarray of int, optional
        Inner fold of every row; member k's out-of-fold rows are fold k.

    Returns
    -------
    Members
    """
    if warm is not None:
        networks = [copy.deepcopy(m) for m in warm]
    else:
        networks = [new_network(network_kwargs, data.take(train), seed + k, training["ties"])
                    for k, (train, _) in enumerate(indices)]
    settings = dict(training)
    objective = functools.partial(
        CAMLIFObjective, alignment_weight=settings.pop("alignment_weight"), ties=settings.pop("ties"),
        autocast_dtype=settings.pop("autocast_dtype", None),
    )
    histories = train_networks(
        networks, data, [train for train, _ in indices],
        [stop for _, stop in indices] if early_stopping else None,
        objective=objective,
        generators=[torch.Generator().manual_seed(seed + k) for k in range(len(networks))],
        **settings,
    )
    oof = None
    if fold is not None:
        oof = np.full(len(data), np.nan)
        for k, module in enumerate(networks):
            unseen = np.flatnonzero(fold == k)
            oof[unseen] = predict_log_risk(module, data.take(unseen)).cpu().numpy()
    return Members(networks, histories, oof)


def members_log_risk(networks, data, risks=None):
    """Mean log-risk of the networks on ``data``, float64, shape (n,); ``risks``: each
    network's float32 log-risk on ``data`` already computed (no forward pass then)."""
    if risks is None:
        risks = [predict_log_risk(m, data) for m in networks]
    return torch.stack(risks).mean(0).cpu().numpy().astype(np.float64)

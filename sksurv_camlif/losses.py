"""Losses of CA-MLIF: the Cox partial likelihood (eq. 7) and the alignment loss (eq. 6).

Both take tensors and return 0-dim tensors; neither synchronises with the host, so they can
sit in a training loop that never calls ``.item()`` per batch.
"""

import torch

__all__ = ["CoxLoss", "cox_ph_loss", "alignment_loss"]


def _tied_groups(sorted_time):
    """For each sorted sample: the index where its tie group starts, and its group id.

    Written without data-dependent shapes (no ``unique``), so it never waits for the GPU,
    and without in-place writes, so ``torch.func.vmap`` maps it over stacked members;
    group ids index buffers of length n.
    """
    n = sorted_time.shape[0]
    pos = torch.arange(n, device=sorted_time.device)
    first = torch.ones(min(n, 1), dtype=torch.bool, device=sorted_time.device)  # none if n = 0
    is_new = torch.cat([first, sorted_time[1:] != sorted_time[:-1]])
    start = torch.cummax(torch.where(is_new, pos, torch.zeros_like(pos)), 0).values
    group = torch.cumsum(is_new, 0) - 1
    return start, group, n


def cox_ph_loss(log_risk, time, event, ties="breslow", *, return_n_events=False):
    """Negative Cox partial log-likelihood, averaged over events.

    Sorts once and uses a reverse cumulative log-sum-exp, so time and memory are
    O(n log n) and O(n); no n x n risk matrix is formed. Stable for large log-risks.

    Parameters
    ----------
    log_risk : Tensor, shape (n,)
        Linear predictor (log hazard ratio); higher means riskier.
    time : Tensor, shape (n,)
        Observed times.
    event : Tensor, shape (n,)
        Event indicator (bool or 0/1).
    ties : {"breslow", "efron"}, default="breslow"
        Handling of tied event times. Efron's correction is exact, computed in log space.
    return_n_events : bool, default=False
        Also return the number of events as a 0-dim tensor (stays on the device).

    Returns
    -------
    loss : Tensor, shape ()
        The negative partial log-likelihood divided by the number of events. A batch
        without events gives a finite 0 whose gradient is 0: callers can tell from
        ``n_events`` without a host synchronisation.
    n_events : Tensor, shape (), optional
    """
    if ties not in ("breslow", "efron"):
        raise ValueError(f"ties must be 'breslow' or 'efron', got {ties!r}")
    log_risk = log_risk.reshape(-1)
    time = time.reshape(-1)
    event = event.reshape(-1).to(torch.bool)
    if not (log_risk.shape == time.shape == event.shape):
        raise ValueError(
            "log_risk, time and event must have the same length, got "
            f"{log_risk.shape[0]}, {time.shape[0]} and {event.shape[0]}"
        )

    time_sorted, order = torch.sort(time, stable=True)
    eta = log_risk[order]
    ev = event[order]
    start, group, n_groups = _tied_groups(time_sorted)

    # log of the risk-set sum: every sample whose time is >= the group's time
    log_risk_set = torch.logcumsumexp(eta.flip(0), 0).flip(0)[start]

    if ties == "efron":
        # Efron: the l-th of d tied events sees R - (l/d) D, D the group's event sum.
        neg_inf = torch.full((n_groups,), float("-inf"), dtype=eta.dtype, device=eta.device)
        ev_eta = torch.where(ev, eta, torch.full_like(eta, float("-inf")))
        gmax = neg_inf.scatter_reduce(0, group, ev_eta, reduce="amax", include_self=True)
        gmax = torch.where(torch.isfinite(gmax), gmax, torch.zeros_like(gmax))
        # mask before exp: an inf in the unselected branch of where() would give NaN grads
        ev_exp = torch.exp(torch.where(ev, eta - gmax[group], torch.full_like(eta, float("-inf"))))
        gsum = torch.zeros_like(gmax).index_add(0, group, ev_exp)
        log_d = torch.log(gsum.clamp_min(torch.finfo(eta.dtype).tiny)) + gmax
        ev_f = ev.to(eta.dtype)
        d = torch.zeros_like(gmax).index_add(0, group, ev_f)
        cum_ev = torch.cumsum(ev_f, 0)
        rank = cum_ev - ev_f - (cum_ev - ev_f)[start]  # events before this one in its group
        # censored samples get 0: their (unused) term must not reach log1p(-1) = -inf
        frac = torch.where(ev, rank / d[group].clamp_min(1.0), torch.zeros_like(rank))
        ratio = torch.exp((log_d[group] - log_risk_set).clamp_max(0.0))
        log_risk_set = log_risk_set + torch.log1p(-frac * ratio)

    terms = torch.where(ev, log_risk_set - eta, torch.zeros_like(eta))
    n_events = ev.sum()
    loss = terms.sum() / n_events.clamp_min(1).to(eta.dtype)
    if return_n_events:
        return loss, n_events
    return loss


class CoxLoss(torch.nn.Module):
    """Module form of :func:`cox_ph_loss` (eq. 7, first term)."""

    def __init__(self, ties="breslow"):
        super().__init__()
        self.ties = ties

    def forward(self, log_risk, time, event):
        return cox_ph_loss(log_risk, time, event, ties=self.ties)


def alignment_loss(original, enhanced, present=None):
    """Alignment loss L_sim of eq. 6.

    ``(1/d) * sum_m ||p_m - p_hat_m||_1`` per patient, averaged over the batch: the L1
    distance between each modality's encoder class token and its cross-attention-enhanced
    class token.

    Parameters
    ----------
    original, enhanced : Tensor, shape (B, M, d)
        Class tokens before and after cross-attention.
    present : Tensor of bool, shape (B, M), optional
        Modalities absent for a patient do not contribute.

    Returns
    -------
    Tensor, shape ()
    """
    per_mod = (original - enhanced).abs().mean(-1)
    if present is not None:
        per_mod = per_mod * present.to(per_mod.dtype)
    return per_mod.sum(-1).mean()

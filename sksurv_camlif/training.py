"""The training loop: event-balanced mini-batches, early stopping, interruption."""

import copy
import warnings
from dataclasses import dataclass
from typing import List, Optional

import numpy as np
import torch
from sksurv.metrics import concordance_index_censored

from .losses import alignment_loss, cox_ph_loss

__all__ = ["SurvivalTensors", "event_balanced_batches", "train_module", "predict_log_risk"]


@dataclass
class SurvivalTensors:
    """Model inputs and targets, already on the training device (moved once).

    ``offset`` (optional, shape (n,)) is a fixed per-patient log-risk added to the
    network's output (the cross-fitted linear model the network is a residual of).
    """

    blocks: List[torch.Tensor]
    present: torch.Tensor
    clinical: Optional[torch.Tensor]
    time: Optional[torch.Tensor] = None
    event: Optional[torch.Tensor] = None
    host_time: Optional[np.ndarray] = None  # targets kept on the host for the C-index
    host_event: Optional[np.ndarray] = None
    offset: Optional[torch.Tensor] = None

    def __len__(self):
        return self.present.shape[0]

    def take(self, idx, host=True):
        """The rows ``idx`` (index tensor, slice or boolean mask) of every field.

        ``host=False`` leaves the host targets out (None): indexing them with a device
        tensor would synchronise with the host, which a training step must not do.
        """

        def t(x):
            return None if x is None else x[idx]

        host_idx = None
        if host:
            host_idx = idx.cpu().numpy() if isinstance(idx, torch.Tensor) else idx
        return SurvivalTensors(
            [b[idx] for b in self.blocks],
            self.present[idx],
            t(self.clinical),
            t(self.time),
            t(self.event),
            None if self.host_time is None or not host else self.host_time[host_idx],
            None if self.host_event is None or not host else self.host_event[host_idx],
            t(self.offset),
        )

    def forward(self, module):
        return module(self.blocks, self.present, self.clinical)

    def with_offset(self, log_risk):
        """The network's log-risk plus this data's offset (if any)."""
        return log_risk if self.offset is None else log_risk + self.offset


def event_balanced_batches(event, batch_size, generator):
    """Shuffle into batches of about ``batch_size`` that each hold at least one event.

    Events and censored samples are shuffled separately and dealt round-robin over the
    batches; the number of batches never exceeds the number of events.

    Parameters
    ----------
    event : ndarray of bool, shape (n,)
    batch_size : int
    generator : torch.Generator (CPU)

    Returns
    -------
    order : LongTensor, shape (n,), the sample indices grouped by batch
    sizes : list of int, the batch sizes (sum n)
    """
    event = np.asarray(event, bool)
    n = event.shape[0]
    ev_idx = torch.from_numpy(np.flatnonzero(event))
    ce_idx = torch.from_numpy(np.flatnonzero(~event))
    n_ev, n_ce = len(ev_idx), len(ce_idx)
    n_batches = max(1, min(int(np.ceil(n / batch_size)), n_ev))
    ev_perm = ev_idx[torch.randperm(n_ev, generator=generator)]
    ce_perm = ce_idx[torch.randperm(n_ce, generator=generator)]
    offset = int(torch.randint(n_batches, (1,), generator=generator))
    batch_of = torch.cat([torch.arange(n_ev) % n_batches, (torch.arange(n_ce) + offset) % n_batches])
    order = torch.cat([ev_perm, ce_perm])[torch.argsort(batch_of, stable=True)]
    sizes = torch.bincount(batch_of, minlength=n_batches).tolist()
    return order, sizes


@torch.no_grad()
def predict_log_risk(module, data, chunk_size=8192):
    """Log-risk of every sample (plus its offset, if any), in eval mode, in chunks."""
    was_training = module.training
    module.eval()
    try:
        out = [
            chunk.with_offset(chunk.forward(module).log_risk.float())
            for chunk in (data.take(slice(i, i + chunk_size)) for i in range(0, len(data), chunk_size))
        ]
    finally:
        module.train(was_training)
    return torch.cat(out) if out else torch.empty(0)


def _cindex(event, time, risk):
    return concordance_index_censored(event, time, risk)[0]


def train_module(
    module,
    train,
    *,
    max_iter,
    batch_size,
    learning_rate,
    weight_decay,
    alignment_weight,
    ties,
    generator,
    validation=None,
    n_iter_no_change=10,
    tol=1e-4,
    verbose=0,
    autocast_dtype=None,
    compiled=None,
):
    """Train ``module`` in place; return a history dict.

    With ``validation`` (a :class:`SurvivalTensors` with ``host_event`` and ``host_time``), stop when Harrell's C on it has not
    improved by ``tol`` for ``n_iter_no_change`` epochs and restore the best weights.
    KeyboardInterrupt stops training with a warning and keeps the best weights so far.
    ``autocast_dtype`` (e.g. torch.bfloat16) runs the forward pass under autocast; the loss
    is always computed in float32. ``compiled`` is a ``torch.compile``-d view of ``module``
    used for the training forward pass.

    Raises
    ------
    FloatingPointError
        If the training loss becomes NaN or inf.
    """
    # foreach: one multi-tensor kernel per update instead of one per parameter (same values)
    optimizer = torch.optim.AdamW(
        module.parameters(), lr=learning_rate, weight_decay=weight_decay, foreach=True
    )
    host_event = train.host_event
    device_type = train.present.device.type
    forward_module = compiled if compiled is not None else module
    use_alignment = alignment_weight > 0 and getattr(module, "cross_attention", False)
    history = {"loss": [], "validation_score": [], "interrupted": False, "best_epoch": None}
    best_score, best_state, stale = -np.inf, None, 0

    def validation_score():
        risk = predict_log_risk(module, validation).cpu().numpy().astype(np.float64)
        if not np.isfinite(risk).all():
            return 0.5
        return _cindex(validation.host_event, validation.host_time, risk)

    if validation is not None:
        # the initial weights are a candidate too: with the Cox-initialised clinical path
        # they are that Cox model, which training must beat to be kept
        best_score, best_state = validation_score(), copy.deepcopy(module.state_dict())
        history["best_epoch"] = 0

    progress = None
    if verbose:
        from tqdm.auto import tqdm

        progress = tqdm(total=max_iter, desc="CAMLIFSurvival", unit="epoch", leave=True)
    try:
        for epoch in range(max_iter):
            module.train()
            order, sizes = event_balanced_batches(host_event, batch_size, generator)
            order = order.to(train.present.device, non_blocking=True)
            total = torch.zeros((), device=train.present.device)
            for idx in torch.split(order, sizes):
                batch = train.take(idx, host=False)
                with torch.autocast(device_type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
                    out = batch.forward(forward_module)
                loss = cox_ph_loss(batch.with_offset(out.log_risk.float()), batch.time, batch.event, ties=ties)
                if use_alignment:
                    loss = loss + alignment_weight * alignment_loss(
                        out.original.float(), out.enhanced.float(), batch.present
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total = total + loss.detach() * len(idx)
            epoch_loss = float(total) / len(train)  # one host sync per epoch
            if not np.isfinite(epoch_loss):
                raise FloatingPointError(
                    f"the training loss became {epoch_loss} at epoch {epoch + 1}; lower "
                    "learning_rate_init, check the inputs for extreme values, or scale the blocks"
                )
            history["loss"].append(epoch_loss)
            postfix = {"loss": f"{epoch_loss:.4f}"}

            if validation is not None:
                score = validation_score()
                history["validation_score"].append(score)
                postfix["val_c"] = f"{score:.4f}"
                # as scikit-learn's MLP: tol only drives the patience; the best is the max
                stale = 0 if score > best_score + tol else stale + 1
                if score > best_score:
                    best_score = score
                    best_state = copy.deepcopy(module.state_dict())
                    history["best_epoch"] = epoch + 1
            if progress is not None:
                progress.update(1)
                progress.set_postfix(postfix)
            if validation is not None and stale >= n_iter_no_change:
                break
    except KeyboardInterrupt:
        history["interrupted"] = True
        warnings.warn(
            f"training interrupted after {len(history['loss'])} epoch(s); keeping the best "
            "weights so far",
            UserWarning,
            stacklevel=3,
        )
    finally:
        if progress is not None:
            progress.close()
    if best_state is not None:
        module.load_state_dict(best_state)
    history["best_validation_score"] = best_score if best_state is not None else None
    return history

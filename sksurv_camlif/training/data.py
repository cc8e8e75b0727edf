"""What the networks are trained on: the inputs and targets on the device, event-balanced
mini-batches, and the one routine that predicts with a trained network."""

from dataclasses import dataclass
from typing import List, Optional

import numpy as np
import torch

from .._concordance import harrell_c

__all__ = ["PREDICT_CHUNK", "SurvivalTensors", "event_balanced_batches", "predict_log_risk", "cindex_or_half"]

#: Rows per forward pass when predicting (bounds the memory of the attention maps).
PREDICT_CHUNK = 8192


@dataclass
class SurvivalTensors:
    """Model inputs and targets, already on the training device (moved once).

    ``blocks`` hold the modality blocks (absent rows at 0), ``present`` the (n, M) presence
    mask, ``clinical`` the clinical block or None; ``time``/``event`` the targets on the
    device (for the loss) and ``host_time``/``host_event`` on the host (for the C-index).
    """

    blocks: List[torch.Tensor]
    present: torch.Tensor
    clinical: Optional[torch.Tensor]
    time: Optional[torch.Tensor] = None
    event: Optional[torch.Tensor] = None
    host_time: Optional[np.ndarray] = None
    host_event: Optional[np.ndarray] = None

    @classmethod
    def from_outputs(cls, outputs, device, event=None, time=None):
        """From the blocks' outputs (:class:`~sksurv_camlif.modality.BlockOutputs`) and,
        to fit, the targets."""

        def dev(a, dtype=torch.float32):
            return None if a is None else torch.as_tensor(a, dtype=dtype).to(device)

        return cls(
            [dev(np.nan_to_num(a)) for a in outputs.modalities],
            dev(outputs.present, torch.bool),
            dev(outputs.clinical),
            time=dev(time, torch.float64),  # float64: keeps ties exact
            event=dev(event, torch.bool),
            host_time=time,
            host_event=event,
        )

    def __len__(self):
        return self.present.shape[0]

    def take(self, idx):
        """The rows ``idx`` (index array or tensor, slice or boolean mask) of every field."""
        host_idx = idx.cpu().numpy() if isinstance(idx, torch.Tensor) else idx
        device_idx = torch.as_tensor(idx) if isinstance(idx, np.ndarray) else idx

        def t(x):
            return None if x is None else x[device_idx]

        def h(x):
            return None if x is None else x[host_idx]

        return SurvivalTensors([b[device_idx] for b in self.blocks], self.present[device_idx], t(self.clinical),
                               t(self.time), t(self.event), h(self.host_time), h(self.host_event))

    def forward(self, module):
        return module(self.blocks, self.present, self.clinical)


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
def predict_log_risk(module, data):
    """Log-risk (float32 tensor, shape (n,)) of every row of ``data``, in eval mode, in
    chunks of :data:`PREDICT_CHUNK` rows."""
    was_training = module.training
    module.eval()
    try:
        out = [data.take(slice(i, i + PREDICT_CHUNK)).forward(module).log_risk.float()
               for i in range(0, len(data), PREDICT_CHUNK)]
    finally:
        module.train(was_training)
    return torch.cat(out) if out else torch.empty(0)


def cindex_or_half(risk, event, time):
    """Harrell's C of a log-risk tensor against host targets; 0.5 if it is not finite (a
    diverged network scores as a random one, so early stopping keeps an earlier epoch) or
    if the rows hold no comparable pair."""
    risk = risk.cpu().numpy().astype(np.float64)
    c = harrell_c(event, time, risk) if np.isfinite(risk).all() else np.nan
    return 0.5 if np.isnan(c) else c

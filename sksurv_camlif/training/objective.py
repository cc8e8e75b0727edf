"""CA-MLIF's objective on stacked members: the forward pass of K networks at once
(``torch.func.vmap`` of ``functional_call``) and each member's loss, the Cox partial
likelihood plus ``alignment_weight`` times the alignment loss (eq. 7)."""

import torch
from torch.func import functional_call, vmap

from ..losses import alignment_loss, cox_ph_loss
from .data import PREDICT_CHUNK

__all__ = ["CAMLIFObjective"]


class CAMLIFObjective:
    """Forward pass and losses of stacked :class:`~sksurv_camlif.nn.CAMLIFNet` members on
    padded rows of ``data`` (a :class:`~.data.SurvivalTensors`).

    Parameters
    ----------
    module : CAMLIFNet on the 'meta' device (:func:`~.stacked.meta_copy`)
    buffers : dict of the members' shared buffers
    data : SurvivalTensors with targets
    alignment_weight : float
        Weight of the alignment loss; it acts only with cross-attention.
    ties : {"breslow", "efron"}
    autocast_dtype : torch.dtype or None
        The forward pass runs under autocast to this dtype (mixed precision); the losses
        stay float32.
    """

    def __init__(self, module, buffers, data, *, alignment_weight=0.0, ties="breslow", autocast_dtype=None):
        self.base = module
        self.data = data
        self.ties = ties
        self.autocast_dtype = autocast_dtype
        self.use_alignment = alignment_weight > 0 and getattr(module, "cross_attention", False)
        self.alignment_weight = alignment_weight
        self.device_type = data.present.device.type

        def one(params, blocks, present, clinical):
            out = functional_call(self.base, {**params, **buffers}, (blocks, present, clinical))
            enhanced = out.enhanced if out.enhanced is not None else out.original
            return out.log_risk, out.original, enhanced

        # without a clinical block its argument is None: not mapped
        self._forward = vmap(one, in_dims=(0, 0, 0, 0 if data.clinical is not None else None),
                             randomness="different")

    def forward(self, params, idx, training):
        """Log-risks (K, W), class tokens and the presence of rows ``idx`` (K, W)."""
        d = self.data
        blocks = [b[idx] for b in d.blocks]
        present = d.present[idx]
        clinical = d.clinical[idx] if d.clinical is not None else None
        self.base.train(training)
        with torch.autocast(self.device_type, dtype=self.autocast_dtype, enabled=self.autocast_dtype is not None):
            log_risk, original, enhanced = self._forward(params, blocks, present, clinical)
        return log_risk.float(), original.float(), enhanced.float(), present

    def losses(self, params, idx, mask):
        """Each member's training loss (K,) on its rows ``idx`` where ``mask``."""
        log_risk, original, enhanced, present = self.forward(params, idx, training=True)
        time = torch.where(mask, self.data.time[idx], torch.full_like(self.data.time[idx], -torch.inf))
        event = self.data.event[idx] & mask
        # padded rows: censored at -inf, in no one's risk set, so no term of the Cox loss
        loss = vmap(lambda r, t, e: cox_ph_loss(r, t, e, ties=self.ties))(log_risk, time, event)
        if self.use_alignment:
            # padded rows count as absent; alignment_loss averages over all W rows, so
            # rescale to the member's real ones
            align = vmap(alignment_loss)(original, enhanced, present & mask.unsqueeze(-1))
            loss = loss + self.alignment_weight * align * mask.shape[1] / mask.sum(1).clamp_min(1)
        return loss

    @torch.no_grad()
    def predict(self, params, idx):
        """Eval-mode log-risks (K, W) of rows ``idx``."""
        out = [self.forward(params, idx[:, i : i + PREDICT_CHUNK], training=False)[0]
               for i in range(0, idx.shape[1], PREDICT_CHUNK)]
        return torch.cat(out, dim=1)

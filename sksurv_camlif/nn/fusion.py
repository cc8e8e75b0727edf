"""Second-stage fusion, MLIF (Fig. 2): MAM, LMF and OWC."""

import torch
from torch import nn

__all__ = ["ModalAttention", "LowRankFusion", "OptimalWeightConcat"]


class ModalAttention(nn.Module):
    """Modal attention mechanism (MAM): one sigmoid gate per modality.

    The gates are computed from all modalities' vectors together, ``g = sigmoid(W [z_1;
    ...; z_M] + b)``, and scale each vector: ``z_m <- g_m z_m``.

    Shape
    -----
    input: (B, M, d) -> output: (B, M, d)
    """

    def __init__(self, d_model, n_modalities):
        super().__init__()
        self.gate = nn.Linear(d_model * n_modalities, n_modalities)

    def forward(self, z):
        g = torch.sigmoid(self.gate(z.flatten(1)))
        return z * g.unsqueeze(-1)


class LowRankFusion(nn.Module):
    """Low-rank multimodal fusion (LMF; Liu et al., ACL 2018).

    ``h = sum_r w_r prod_m (W_m^(r) [z_m; 1]) + b``: the tensor-fusion weight
    ``W = sum_r w_r (x)_m W_m^(r)`` is never built, so the cost is linear in the number of
    modalities. A modality marked absent for a patient contributes the multiplicative
    identity (1), i.e. it is left out of that patient's product.

    Parameters
    ----------
    in_features : int
        Width d of each modality vector.
    out_features : int
    n_modalities : int
    rank : int

    Shape
    -----
    input: (B, M, d) and optional ``present`` (B, M) -> output: (B, out_features)
    """

    def __init__(self, in_features, out_features, n_modalities, rank):
        super().__init__()
        self.rank = rank
        self.factors = nn.Parameter(torch.empty(n_modalities, rank, in_features + 1, out_features))
        nn.init.xavier_normal_(self.factors.view(n_modalities * rank, in_features + 1, out_features))
        self.rank_weights = nn.Parameter(torch.empty(rank))
        nn.init.normal_(self.rank_weights, 0.0, rank**-0.5)
        self.bias = nn.Parameter(torch.zeros(out_features))

    def forward(self, z, present=None):
        ones = z.new_ones(z.shape[0], z.shape[1], 1)
        z1 = torch.cat([z, ones], dim=-1)  # (B, M, d + 1)
        proj = torch.einsum("bmi,mrio->mrbo", z1, self.factors)  # (M, R, B, o)
        if present is not None:
            keep = present.t()[:, None, :, None]
            proj = torch.where(keep, proj, torch.ones_like(proj))
        fused = proj.prod(dim=0)  # (R, B, o)
        return torch.einsum("r,rbo->bo", self.rank_weights, fused) + self.bias


class OptimalWeightConcat(nn.Module):
    """Optimal weight concatenation (OWC): the concatenation times a learned sigmoid weight.

    ``w = sigmoid(FFN(c))`` gives one weight per element of ``c = a (+) b (+) ...``; the
    output is ``c * w`` (the (+) of eq. 5).

    Shape
    -----
    input: list of (B, d_i) -> output: (B, sum d_i)
    """

    def __init__(self, in_features, hidden=None):
        super().__init__()
        hidden = hidden or max(in_features // 2, 1)
        self.net = nn.Sequential(
            nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, in_features)
        )

    def forward(self, parts):
        c = torch.cat(parts, dim=-1)
        return c * torch.sigmoid(self.net(c))

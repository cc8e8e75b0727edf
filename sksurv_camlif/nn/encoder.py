"""Per-modality self-attention encoder (eq. 1-2)."""

import torch
from torch import nn

__all__ = ["SelfAttentionBlock", "ModalityEncoder"]


class SelfAttentionBlock(nn.Module):
    """Pre-LN residual multi-head self-attention: ``X <- MSA(LN(X)) + X`` (eq. 1 / eq. 2).

    Shape
    -----
    input: (B, T, d) -> output: (B, T, d)
    """

    def __init__(self, d_model, n_heads, dropout=0.0):
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.attn = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)

    def forward(self, x):
        h = self.norm(x)
        # need_weights=False keeps the fused kernel; attention stays within one patient
        return self.attn(h, h, h, need_weights=False)[0] + x


class ModalityEncoder(nn.Module):
    """Class token + ``n_layers`` pre-LN self-attention blocks (eq. 1-2; the paper uses 2).

    Shape
    -----
    input: tokens (B, K, d) -> class token p (B, d) and tokens P (B, K + 1, d).
    """

    def __init__(self, d_model, n_heads, n_layers=2, dropout=0.0):
        super().__init__()
        self.cls_token = nn.Parameter(torch.randn(1, 1, d_model) * 0.02)
        self.layers = nn.ModuleList(
            SelfAttentionBlock(d_model, n_heads, dropout) for _ in range(n_layers)
        )

    def forward(self, tokens):
        x = torch.cat([self.cls_token.expand(tokens.shape[0], -1, -1), tokens], dim=1)
        for layer in self.layers:
            x = layer(x)
        return x[:, 0], x

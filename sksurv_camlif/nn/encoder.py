"""Per-modality self-attention encoder (eq. 1-2)."""

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MultiHeadSelfAttention", "SelfAttentionBlock", "ModalityEncoder", "softmax_last"]


def softmax_last(x):
    """``torch.softmax(x, dim=-1)``, computed along a leading axis.

    Equal to the plain call; on CPU the kernel is 10-20x slower over a short last axis
    (the few tokens of a block, the d_h columns of a context) than over a leading one.
    """
    return torch.softmax(x.movedim(-1, 0), dim=0).movedim(0, -1)


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention, ``softmax(Q K^T / sqrt(d_h)) V`` per head, then ``W_o``.

    The same parameters, initialisation and result as ``nn.MultiheadAttention(d, h,
    batch_first=True)(x, x, x, need_weights=False)`` (and the same state-dict names), with
    fewer kernels per step: one input projection, two small batched matmuls and
    :func:`softmax_last`. Dropout acts on the attention weights.

    Shape
    -----
    input: (B, T, d) -> output: (B, T, d)
    """

    def __init__(self, d_model, n_heads, dropout=0.0):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} must be divisible by n_heads={n_heads}")
        self.n_heads = n_heads
        self.d_head = d_model // n_heads
        self.dropout = dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d_model, d_model))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * d_model))
        self.out_proj = nn.Linear(d_model, d_model)
        # nn.MultiheadAttention's initialisation, in its order (same random stream)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.in_proj_bias)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, x):
        b, t, d = x.shape
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        q, k, v = qkv.view(b, t, 3, self.n_heads, self.d_head).permute(2, 0, 3, 1, 4)  # (B, h, T, d_h)
        weights = softmax_last(q @ k.transpose(-1, -2) / math.sqrt(self.d_head))
        weights = F.dropout(weights, self.dropout, self.training)
        out = (weights @ v).transpose(1, 2).reshape(b, t, d)
        return self.out_proj(out)


class SelfAttentionBlock(nn.Module):
    """Pre-LN residual multi-head self-attention: ``X <- MSA(LN(X)) + X`` (eq. 1 / eq. 2).

    Attention stays within one patient's tokens.

    Shape
    -----
    input: (B, T, d) -> output: (B, T, d)
    """

    def __init__(self, d_model, n_heads, dropout=0.0):
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.attn = MultiHeadSelfAttention(d_model, n_heads, dropout)

    def forward(self, x):
        return self.attn(self.norm(x)) + x


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

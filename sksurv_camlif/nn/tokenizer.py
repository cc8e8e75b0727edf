"""Tokenizer: a flat feature block -> K tokens of width d (MODEL.md, step 2)."""

import math

import numpy as np
import torch
from torch import nn

__all__ = ["GroupTokenizer", "split_groups"]


def split_groups(n_features, n_tokens):
    """Cut ``range(n_features)`` into ``min(n_tokens, n_features)`` contiguous groups.

    Never yields an empty group, so no token is a zero pad.
    """
    n_tokens = max(1, min(int(n_tokens), int(n_features)))
    return [g.tolist() for g in np.array_split(np.arange(n_features), n_tokens)]


class GroupTokenizer(nn.Module):
    """One token per feature group: ``Linear(p_k, d) -> ELU -> AlphaDropout``.

    As the paper's pathology block (four named feature groups, each mapped by its own
    self-normalising network to one token). All groups are computed in one matmul with a
    block-masked weight, so the cost is one kernel whatever the number of groups.

    Parameters
    ----------
    n_features : int
        Width p of the flat block.
    groups : list of list of int
        Column indices of each group (one token each); a column may appear in several.
    d_model : int
        Token width d.
    dropout : float
        AlphaDropout rate.

    Shape
    -----
    input: (B, p) -> output: (B, K, d), K = len(groups).
    """

    def __init__(self, n_features, groups, d_model, dropout=0.0):
        super().__init__()
        if not groups or any(len(g) == 0 for g in groups):
            raise ValueError("every token group needs at least one feature")
        self.n_tokens = len(groups)
        self.d_model = d_model
        mask = torch.zeros(n_features, self.n_tokens, d_model)
        weight = torch.zeros(n_features, self.n_tokens, d_model)
        for k, g in enumerate(groups):
            mask[g, k, :] = 1.0
            # LeCun normal per group, as self-normalising networks expect
            weight[g, k, :] = torch.randn(len(g), d_model) / math.sqrt(len(g))
        self.register_buffer("mask", mask.reshape(n_features, -1), persistent=False)
        self.weight = nn.Parameter(weight.reshape(n_features, -1))
        self.bias = nn.Parameter(torch.zeros(self.n_tokens * d_model))
        self.act = nn.ELU()
        self.drop = nn.AlphaDropout(dropout)

    def forward(self, x):
        tokens = torch.addmm(self.bias, x, self.weight * self.mask)
        tokens = self.drop(self.act(tokens))
        return tokens.reshape(x.shape[0], self.n_tokens, self.d_model)

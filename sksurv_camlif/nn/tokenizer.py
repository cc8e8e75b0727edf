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
    self-normalising network to one token). The groups are gathered side by side, padded
    with zero inputs to the largest group's size G, and mapped in one batched matmul:
    ``token_k = ELU(x[groups[k]] @ W_k + b_k)``, about ``B x p x d`` multiply-adds for
    disjoint groups of similar size (a block-masked ``(p, K d)`` weight would do K times
    that, most of it products with zero).

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
    input: (B, p) -> output: (B, K, d), K = len(groups). Parameters: ``weight`` (K, G, d),
    rows past a group's size multiply the zero pad and stay 0; ``bias`` (K, d).
    """

    def __init__(self, n_features, groups, d_model, dropout=0.0):
        super().__init__()
        if not groups or any(len(g) == 0 for g in groups):
            raise ValueError("every token group needs at least one feature")
        self.n_features = n_features
        self.n_tokens = len(groups)
        self.d_model = d_model
        width = max(len(g) for g in groups)
        index = torch.full((self.n_tokens, width), n_features, dtype=torch.long)  # n_features: the zero pad
        weight = torch.zeros(self.n_tokens, width, d_model)
        for k, g in enumerate(groups):
            index[k, : len(g)] = torch.as_tensor(g)
            # LeCun normal per group, as self-normalising networks expect
            weight[k, : len(g)] = torch.randn(len(g), d_model) / math.sqrt(len(g))
        self.register_buffer("index", index, persistent=False)
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(torch.zeros(self.n_tokens, d_model))
        self.act = nn.ELU()
        self.drop = nn.AlphaDropout(dropout)

    def forward(self, x):
        padded = torch.nn.functional.pad(x, (0, 1))  # column p is the zero pad
        grouped = padded[:, self.index]  # (B, K, G)
        tokens = torch.einsum("bkg,kgd->bkd", grouped, self.weight) + self.bias
        return self.drop(self.act(tokens))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # models saved with the block-masked layout (weight (p, K d), bias (K d)) load as
        # the grouped one: the same numbers, moved to their group's rows
        weight = state_dict.get(prefix + "weight")
        if weight is not None and weight.shape == (self.n_features, self.n_tokens * self.d_model):
            old = weight.reshape(self.n_features, self.n_tokens, self.d_model)
            rows = self.index.clamp(max=self.n_features - 1)
            grouped = old[rows, torch.arange(self.n_tokens)[:, None]]  # (K, G, d)
            state_dict[prefix + "weight"] = grouped * (self.index < self.n_features)[..., None]
            state_dict[prefix + "bias"] = state_dict[prefix + "bias"].reshape(self.n_tokens, self.d_model)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

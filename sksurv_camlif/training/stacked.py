"""K networks of one architecture as one: their parameters as rows of one (K, P) tensor,
AdamW on those rows, and each epoch's padded batch plan.

The members share nothing, so the gradient of their summed losses is each member's own,
and one AdamW update written on the rows moves them all. Each member keeps what it has
when trained alone: its training rows and its event-balanced batches from its own
generator (padded to a common width per step, the padding masked out of the losses).
"""

import copy
import warnings

import numpy as np
import torch

__all__ = ["StackedParameters", "StackedAdamW", "padded", "epoch_plan", "meta_copy"]


class StackedParameters:
    """The parameters of K modules of one architecture as rows of one (K, P) tensor.

    Parameters
    ----------
    modules : list of K torch.nn.Module, same architecture, same device
        Their buffers (e.g. the tokenizers' constant masks) must be equal: they are shared
        (``buffers``), not stacked.
    """

    def __init__(self, modules):
        first = modules[0]
        self.buffers = dict(first.named_buffers())
        for m in modules[1:]:
            other = dict(m.named_buffers())
            if other.keys() != self.buffers.keys() or not all(torch.equal(other[n], b) for n, b in self.buffers.items()):
                raise ValueError("stacked training needs modules whose buffers are equal")
        self.names, self.shapes, self.bounds = [], [], []
        start = 0
        for name, p in first.named_parameters():
            self.names.append(name)
            self.shapes.append(p.shape)
            self.bounds.append((start, start + p.numel()))
            start += p.numel()
        self.n_params = start
        rows = [torch.cat([p.detach().reshape(-1) for p in m.parameters()]) for m in modules]
        if any(r.numel() != start for r in rows):
            raise ValueError("stacked training needs modules of one architecture")
        self.flat = torch.stack(rows).requires_grad_(True)  # (K, P)

    def views(self, flat=None):
        """``{name: tensor (K, *shape)}`` of ``flat`` (default: the stacked rows)."""
        flat = self.flat if flat is None else flat
        return {
            n: flat[:, a:b].reshape(flat.shape[0], *s) for n, s, (a, b) in zip(self.names, self.shapes, self.bounds)
        }

    def keep(self, rows):
        """Keep only the members ``rows`` (a list of row positions)."""
        self.flat = self.flat.detach()[rows].requires_grad_(True)

    @torch.no_grad()
    def write(self, row, module):
        """Copy the flattened parameters ``row`` (P,) into ``module``."""
        for p, (a, b) in zip(module.parameters(), self.bounds):
            p.copy_(row[a:b].reshape(p.shape))


class StackedAdamW:
    """AdamW (``torch.optim.AdamW``'s update, decoupled weight decay) on (K, P) rows, with
    one step count per row; ``step(flat, grad, moving)`` updates only the rows where
    ``moving`` (bool, (K,)) is True, so a member without a batch in a step stands still."""

    def __init__(self, flat, lr, weight_decay, betas=(0.9, 0.999), eps=1e-8):
        self.lr, self.weight_decay, self.betas, self.eps = lr, weight_decay, betas, eps
        self.exp_avg = torch.zeros_like(flat)
        self.exp_avg_sq = torch.zeros_like(flat)
        self.steps = torch.zeros(flat.shape[0], 1, dtype=flat.dtype, device=flat.device)

    def keep(self, rows):
        self.exp_avg, self.exp_avg_sq, self.steps = self.exp_avg[rows], self.exp_avg_sq[rows], self.steps[rows]

    @torch.no_grad()
    def step(self, flat, grad, moving):
        b1, b2 = self.betas
        m = moving.to(flat.dtype).unsqueeze(1)  # (K, 1)
        self.steps += m
        t = self.steps.clamp_min(1.0)
        new = flat * (1 - self.lr * self.weight_decay)
        exp_avg = self.exp_avg.lerp(grad, 1 - b1)
        exp_avg_sq = self.exp_avg_sq * b2 + (1 - b2) * grad * grad
        denom = (exp_avg_sq.sqrt() / (1 - b2**t).sqrt()) + self.eps
        new = new - (self.lr / (1 - b1**t)) * exp_avg / denom
        keep = moving.unsqueeze(1)
        flat.copy_(torch.where(keep, new, flat))
        self.exp_avg = torch.where(keep, exp_avg, self.exp_avg)
        self.exp_avg_sq = torch.where(keep, exp_avg_sq, self.exp_avg_sq)


def padded(index_lists):
    """Row indices (K, W) padded with 0 and their mask (K, W) from K index arrays (host)."""
    width = max(1, max(len(ix) for ix in index_lists))
    idx = torch.zeros(len(index_lists), width, dtype=torch.long)
    mask = torch.zeros(len(index_lists), width, dtype=torch.bool)
    for k, ix in enumerate(index_lists):
        idx[k, : len(ix)] = torch.as_tensor(ix, dtype=torch.long)
        mask[k, : len(ix)] = True
    return idx, mask


def epoch_plan(plans, train_rows, device):
    """One epoch's steps for the members: a list of (row indices of ``data``, mask), each
    of shape (K, W_s), W_s the widest batch of step s; moved to the device in one copy
    (no host synchronisation per step).

    ``plans[k]`` is member k's ``(order, sizes)`` from :func:`event_balanced_batches` on
    its training rows ``train_rows[k]``; a member with fewer batches gets empty steps.
    """
    batches = [[train_rows[k][b.numpy()] for b in torch.split(order, sizes)] for k, (order, sizes) in enumerate(plans)]
    empty = np.empty(0, dtype=np.int64)
    steps = [padded([bs[s] if s < len(bs) else empty for bs in batches]) for s in range(max(map(len, batches)))]
    shapes = [idx.shape for idx, _ in steps]
    flat_idx = torch.cat([idx.reshape(-1) for idx, _ in steps]).to(device, non_blocking=True)
    flat_mask = torch.cat([mask.reshape(-1) for _, mask in steps]).to(device, non_blocking=True)
    out, start = [], 0
    for shape in shapes:
        stop = start + shape.numel()
        out.append((flat_idx[start:stop].view(shape), flat_mask[start:stop].view(shape)))
        start = stop
    return out


def meta_copy(module):
    """A parameter-free twin of ``module`` for ``functional_call`` (weights on 'meta')."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return copy.deepcopy(module).to("meta")

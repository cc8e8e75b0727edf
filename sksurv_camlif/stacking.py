"""Members trained at once: K networks of one architecture as one stacked network.

The K members' parameters live in one tensor of shape (K, P) (row k: member k, flattened);
one forward pass runs every member on its own batch through ``torch.func.vmap`` of
``functional_call``, one backward pass gives every member's gradient (the members share
nothing, so the gradient of the summed losses is each member's own), and one AdamW update,
written on the (K, P) rows, moves them all. Each member keeps what it has when trained
alone: its training rows, its event-balanced batches from its own generator (padded to a
common width, the padding masked out of the losses), its held-out rows and its early
stopping. A member that stops leaves the stack with its best weights.

Same algorithm as training the members one after another (:func:`~.training.train_module`
with the same modules and generators): same batches, same losses, same AdamW; the
predictions agree to float rounding where nothing is random (``dropout=0``). Dropout masks
come from torch's global generator (``vmap(randomness="different")``), not from the order
of one-by-one training.
"""

import copy
import time as _time
import warnings

import numpy as np
import torch
from torch.func import functional_call, vmap

from .losses import alignment_loss, cox_ph_loss
from .training import (
    Patience,
    ProgressBar,
    _cindex_or_half,
    _minus_cox_loss,
    _warn_interrupted,
    event_balanced_batches,
)

__all__ = ["StackedParameters", "StackedAdamW", "train_stacked"]


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


def _padded(index_lists):
    """Row indices (K, W) padded with 0 and their mask (K, W) from K index arrays (host)."""
    width = max(1, max(len(ix) for ix in index_lists))
    idx = torch.zeros(len(index_lists), width, dtype=torch.long)
    mask = torch.zeros(len(index_lists), width, dtype=torch.bool)
    for k, ix in enumerate(index_lists):
        idx[k, : len(ix)] = torch.as_tensor(ix, dtype=torch.long)
        mask[k, : len(ix)] = True
    return idx, mask


def _epoch_plan(plans, train_rows, device):
    """One epoch's steps for the members: a list of (row indices of ``data``, mask), each
    of shape (K, W_s), W_s the widest batch of step s; moved to the device in one copy
    (no host synchronisation per step).

    ``plans[k]`` is member k's ``(order, sizes)`` from :func:`event_balanced_batches` on
    its training rows ``train_rows[k]``; a member with fewer batches gets empty steps.
    """
    batches = [[train_rows[k][b.numpy()] for b in torch.split(order, sizes)] for k, (order, sizes) in enumerate(plans)]
    empty = np.empty(0, dtype=np.int64)
    steps = [_padded([bs[s] if s < len(bs) else empty for bs in batches]) for s in range(max(map(len, batches)))]
    shapes = [idx.shape for idx, _ in steps]
    flat_idx = torch.cat([idx.reshape(-1) for idx, _ in steps]).to(device, non_blocking=True)
    flat_mask = torch.cat([mask.reshape(-1) for _, mask in steps]).to(device, non_blocking=True)
    out, start = [], 0
    for shape in shapes:
        stop = start + shape.numel()
        out.append((flat_idx[start:stop].view(shape), flat_mask[start:stop].view(shape)))
        start = stop
    return out


class _Stack:
    """The forward pass and the losses of the stacked members on padded rows of ``data``."""

    def __init__(self, module, buffers, data, *, alignment_weight, ties, autocast_dtype):
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
        """Log-risks (K, W) (offset added), class tokens and the presence of rows ``idx``."""
        d = self.data
        blocks = [b[idx] for b in d.blocks]
        present = d.present[idx]
        clinical = d.clinical[idx] if d.clinical is not None else None
        self.base.train(training)
        with torch.autocast(self.device_type, dtype=self.autocast_dtype, enabled=self.autocast_dtype is not None):
            log_risk, original, enhanced = self._forward(params, blocks, present, clinical)
        log_risk = log_risk.float()
        if d.offset is not None:
            log_risk = log_risk + d.offset[idx]
        return log_risk, original.float(), enhanced.float(), present

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
    def predict(self, params, idx, chunk_size=8192):
        """Eval-mode log-risks (K, W) (offset added) of rows ``idx``."""
        out = [self.forward(params, idx[:, i : i + chunk_size], training=False)[0]
               for i in range(0, idx.shape[1], chunk_size)]
        return torch.cat(out, dim=1)


def _score_fn(scoring, ties):
    def score(risk, validation):
        if scoring == "c-index":
            return _cindex_or_half(risk, validation.host_event, validation.host_time)
        return _minus_cox_loss(risk, validation.time, validation.event, ties)

    return score


def train_stacked(
    modules,
    data,
    train_rows,
    validation_rows=None,
    *,
    max_iter,
    batch_size,
    learning_rate,
    weight_decay,
    alignment_weight,
    ties,
    generators,
    scoring="c-index",
    n_iter_no_change=10,
    tol=1e-4,
    autocast_dtype=None,
    verbose=0,
):
    """Train K modules of one architecture at once, each on its own rows of ``data``.

    Parameters
    ----------
    modules : list of K CAMLIFNet (same architecture, on ``data``'s device)
        Trained in place: each ends with its best weights (early stopping) or its last.
    data : SurvivalTensors with targets (and host targets), offset optional
    train_rows : list of K ndarray of int, each member's training rows of ``data``
    validation_rows : list of K ndarray of int, optional
        Each member's held-out rows: early stopping on their ``scoring`` as
        :class:`~.training.EarlyStopping` (the initial weights are epoch 0).
    generators : list of K torch.Generator (CPU), each member's batch order
    verbose : int
        1 shows a progress bar over epochs with the mean loss (and validation score) of
        the members still training.
    max_iter, batch_size, learning_rate, weight_decay, alignment_weight, ties, scoring, \
n_iter_no_change, tol, autocast_dtype
        As :func:`~.training.camlif_run`'s.

    Returns
    -------
    histories : list of K dict, as :func:`~.training.train_module`'s (``epoch_time`` is the
        time of the round the member took part in).
    """
    k_all = len(modules)
    device = data.present.device
    stacked = StackedParameters(modules)  # on the modules' device, as data
    base = _meta_copy(modules[0])
    stack = _Stack(base, stacked.buffers, data, alignment_weight=alignment_weight, ties=ties, autocast_dtype=autocast_dtype)
    optimizer = StackedAdamW(stacked.flat, learning_rate, weight_decay)
    events = [np.asarray(data.host_event, bool)[rows] for rows in train_rows]
    histories = [{"loss": [], "interrupted": False, "epoch_time": [], "validation_score": [],
                  "best_epoch": None, "best_validation_score": None} for _ in range(k_all)]
    active = list(range(k_all))  # members still training, in stack order
    early = validation_rows is not None
    if early:
        score = _score_fn(scoring, ties)
        held_idx, held_mask = (t.to(device) for t in _padded(validation_rows))
        validations = [data.take(torch.as_tensor(rows, dtype=torch.long, device=device)) for rows in validation_rows]
        initial = stack.predict(stacked.views(), held_idx)
        patience = [Patience(score(initial[k][held_mask[k]], validations[k]), n_iter_no_change, tol)
                    for k in range(k_all)]
        best = [stacked.flat[k].detach().clone() for k in range(k_all)]
        for h in histories:
            h["best_epoch"] = 0
    bar = None
    if verbose:
        bar = ProgressBar(max_iter, f"CAMLIFSurvival ({k_all} members)",
                          "val_c" if scoring == "c-index" else "val_score")
        bar.open()
    try:
        for _ in range(max_iter):
            start = _time.perf_counter()
            steps = _epoch_plan(
                [event_balanced_batches(events[k], batch_size, generators[k]) for k in active],
                [train_rows[k] for k in active], device,
            )
            total = torch.zeros(len(active), device=device)
            for idx, mask in steps:
                loss = stack.losses(stacked.views(), idx, mask)
                (grad,) = torch.autograd.grad(loss.sum(), stacked.flat)
                optimizer.step(stacked.flat, grad, mask.any(1))
                total = total + loss.detach() * mask.sum(1)
            epoch_loss = (total.cpu().numpy() / np.array([len(train_rows[k]) for k in active]))  # one host sync
            elapsed = _time.perf_counter() - start
            if not np.isfinite(epoch_loss).all():
                raise FloatingPointError(
                    f"the training loss became {epoch_loss[~np.isfinite(epoch_loss)][0]} at epoch "
                    f"{len(histories[active[0]]['loss']) + 1}; lower learning_rate_init, check the inputs "
                    "for extreme values, or scale them"
                )
            stopped, values = [], []
            if early:
                risk = stack.predict(stacked.views(), held_idx[active])
            for pos, k in enumerate(active):
                h = histories[k]
                h["loss"].append(float(epoch_loss[pos]))
                h["epoch_time"].append(elapsed)
                if early:
                    value = score(risk[pos][held_mask[k]], validations[k])
                    values.append(value)
                    h["validation_score"].append(value)
                    if patience[k].update(value):
                        best[k] = stacked.flat[pos].detach().clone()
                        h["best_epoch"] = len(h["loss"])
                    if patience[k].stop:
                        stopped.append(pos)
            if bar is not None:
                bar.show(np.mean(epoch_loss), np.mean(values) if values else None, members=len(active))
            if stopped:
                for pos in stopped:
                    stacked.write(best[active[pos]], modules[active[pos]])
                kept = [pos for pos in range(len(active)) if pos not in stopped]
                active = [active[pos] for pos in kept]
                if not active:
                    break
                stacked.keep(kept)
                optimizer.keep(kept)
    except KeyboardInterrupt:
        for k in active:
            histories[k]["interrupted"] = True
        _warn_interrupted(max(len(h["loss"]) for h in histories))
    finally:
        if bar is not None:
            bar.close()
        for pos, k in enumerate(active):
            stacked.write(best[k] if early else stacked.flat[pos].detach(), modules[k])
    if early:
        for k in range(k_all):
            histories[k]["best_validation_score"] = patience[k].best
    return histories


def _meta_copy(module):
    """A parameter-free twin of ``module`` for ``functional_call`` (weights on 'meta')."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return copy.deepcopy(module).to("meta")

"""The training loop: event-balanced mini-batches, callbacks (early stopping, progress,
epoch times), interruption; and CA-MLIF's loss and set-up on top of it."""

import copy
import time
import warnings
from dataclasses import dataclass
from typing import List, Optional

import numpy as np
import torch
from sksurv.metrics import concordance_index_censored

from .losses import alignment_loss, cox_ph_loss

__all__ = [
    "SurvivalTensors",
    "event_balanced_batches",
    "predict_log_risk",
    "Callback",
    "LoopState",
    "EpochTimer",
    "EarlyStopping",
    "ProgressBar",
    "validation_cindex",
    "validation_loss",
    "train_loop",
    "TrainingRun",
    "run_to_end",
    "train_lockstep",
    "Patience",
    "pooled_score",
    "camlif_run",
    "adamw",
    "camlif_batch_loss",
    "train_module",
]


@dataclass
class SurvivalTensors:
    """Model inputs and targets, already on the training device (moved once).

    ``offset`` (optional, shape (n,)) is a fixed per-patient log-risk added to the
    network's output (the cross-fitted linear model the network is a residual of).
    """

    blocks: List[torch.Tensor]
    present: torch.Tensor
    clinical: Optional[torch.Tensor]
    time: Optional[torch.Tensor] = None
    event: Optional[torch.Tensor] = None
    host_time: Optional[np.ndarray] = None  # targets kept on the host for the C-index
    host_event: Optional[np.ndarray] = None
    offset: Optional[torch.Tensor] = None

    def __len__(self):
        return self.present.shape[0]

    def take(self, idx, host=True):
        """The rows ``idx`` (index tensor, slice or boolean mask) of every field.

        ``host=False`` leaves the host targets out (None): indexing them with a device
        tensor would synchronise with the host, which a training step must not do.
        """

        def t(x):
            return None if x is None else x[idx]

        host_idx = None
        if host:
            host_idx = idx.cpu().numpy() if isinstance(idx, torch.Tensor) else idx
        return SurvivalTensors(
            [b[idx] for b in self.blocks],
            self.present[idx],
            t(self.clinical),
            t(self.time),
            t(self.event),
            None if self.host_time is None or not host else self.host_time[host_idx],
            None if self.host_event is None or not host else self.host_event[host_idx],
            t(self.offset),
        )

    def forward(self, module):
        return module(self.blocks, self.present, self.clinical)

    def with_offset(self, log_risk):
        """The network's log-risk plus this data's offset (if any)."""
        return log_risk if self.offset is None else log_risk + self.offset


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
def predict_log_risk(module, data, chunk_size=8192):
    """Log-risk of every sample (plus its offset, if any), in eval mode, in chunks."""
    was_training = module.training
    module.eval()
    try:
        out = [
            chunk.with_offset(chunk.forward(module).log_risk.float())
            for chunk in (data.take(slice(i, i + chunk_size)) for i in range(0, len(data), chunk_size))
        ]
    finally:
        module.train(was_training)
    return torch.cat(out) if out else torch.empty(0)


def _cindex(event, time, risk):
    return concordance_index_censored(event, time, risk)[0]


# ---------------------------------------------------------------------------- the loop
@dataclass
class LoopState:
    """What the callbacks of :func:`train_loop` see and change.

    ``history`` holds the per-epoch ``loss`` (and whatever the callbacks add, e.g.
    ``validation_score``, ``epoch_time``) and ``interrupted``; a callback sets ``stop`` to
    end training after the current epoch.
    """

    module: torch.nn.Module
    history: dict
    epoch: int = 0
    stop: bool = False


class Callback:
    """Hooks of :func:`train_loop`, each called with the :class:`LoopState`.

    ``on_train_end`` runs however training ends (finished, stopped, interrupted, failed).
    """

    def on_train_begin(self, state):
        pass

    def on_epoch_begin(self, state):
        pass

    def on_epoch_end(self, state):
        pass

    def on_train_end(self, state):
        pass


class EpochTimer(Callback):
    """Seconds of training of each epoch in ``history["epoch_time"]``.

    Put it first: it then stops before the other callbacks (validation) run. The loop's
    per-epoch host sync (the epoch loss) comes before ``on_epoch_end``, so the times are
    right on an asynchronous device too.
    """

    def on_train_begin(self, state):
        state.history["epoch_time"] = []

    def on_epoch_begin(self, state):
        self._start = time.perf_counter()

    def on_epoch_end(self, state):
        state.history["epoch_time"].append(time.perf_counter() - self._start)


class Patience:
    """The stopping rule of :class:`EarlyStopping` and :func:`train_lockstep`, on a stream of
    scores (larger is better) that starts with the initial weights' score.

    ``update(score)`` returns True when ``score`` is a new best (the caller then keeps the
    weights); ``stop`` is True once ``n_iter_no_change`` scores in a row have not improved
    on the best by more than ``tol``. As scikit-learn's MLP, ``tol`` only drives the
    patience; the best is the maximum.
    """

    def __init__(self, initial_score, n_iter_no_change, tol):
        self.best, self.n_iter_no_change, self.tol = initial_score, n_iter_no_change, tol
        self.stale, self.best_epoch, self.epoch = 0, 0, 0

    def update(self, score):
        self.epoch += 1
        self.stale = 0 if score > self.best + self.tol else self.stale + 1
        if score > self.best:
            self.best, self.best_epoch = score, self.epoch
            return True
        return False

    @property
    def stop(self):
        return self.stale >= self.n_iter_no_change


class EarlyStopping(Callback):
    """Stop when ``score(module)`` has not improved by ``tol`` for ``n_iter_no_change`` epochs;
    the weights of the best score are restored at the end (rule: :class:`Patience`).

    The initial weights are a candidate too (epoch 0): where they are a fitted model (the
    Cox-initialised clinical path, or a residual head at 0 over a linear offset), training
    must beat them to be kept. Adds ``validation_score`` (per epoch), ``best_epoch`` and
    ``best_validation_score`` to the history.
    """

    def __init__(self, score, n_iter_no_change=10, tol=1e-4):
        self.score, self.n_iter_no_change, self.tol = score, n_iter_no_change, tol

    def on_train_begin(self, state):
        self.patience = Patience(self.score(state.module), self.n_iter_no_change, self.tol)
        self.best_state = copy.deepcopy(state.module.state_dict())
        state.history.update(validation_score=[], best_epoch=0)

    def on_epoch_end(self, state):
        score = self.score(state.module)
        state.history["validation_score"].append(score)
        if self.patience.update(score):
            self.best_state = copy.deepcopy(state.module.state_dict())
            state.history["best_epoch"] = state.epoch
        state.stop = state.stop or self.patience.stop

    def on_train_end(self, state):
        state.module.load_state_dict(self.best_state)
        state.history["best_validation_score"] = self.patience.best


class ProgressBar(Callback):
    """A tqdm bar over epochs with the last loss (and validation score, if any).

    Also driven by hand (:meth:`open`, :meth:`show`, :meth:`close`) by loops without a
    :class:`TrainingRun`, e.g. :func:`~.stacking.train_stacked`.
    """

    def __init__(self, max_iter, desc, score_name="val_c"):
        self.max_iter, self.desc, self.score_name = max_iter, desc, score_name

    def open(self):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=self.max_iter, desc=self.desc, unit="epoch", leave=True)

    def show(self, loss, validation_score=None, **extra):
        """One epoch done: its loss, validation score and any ``extra`` postfix fields."""
        postfix = {"loss": f"{loss:.4f}", **extra}
        if validation_score is not None:
            postfix[self.score_name] = f"{validation_score:.4f}"
        self.bar.update(1)
        self.bar.set_postfix(postfix)

    def close(self):
        self.bar.close()

    def on_train_begin(self, state):
        self.open()

    def on_epoch_end(self, state):
        scores = state.history.get("validation_score")
        self.show(state.history["loss"][-1], scores[-1] if scores else None)

    def on_train_end(self, state):
        self.close()


def _cindex_or_half(risk, event, time):
    """Harrell's C of a log-risk tensor against host targets; 0.5 if it is not finite."""
    risk = risk.cpu().numpy().astype(np.float64)
    return _cindex(event, time, risk) if np.isfinite(risk).all() else 0.5


def _minus_cox_loss(risk, time, event, ties):
    """Minus the Cox loss of a log-risk tensor (in float64); -inf if it is not finite."""
    loss = float(cox_ph_loss(risk.double(), time, event, ties=ties))
    return -loss if np.isfinite(loss) else -np.inf


def validation_cindex(validation):
    """``score(module)`` for :class:`EarlyStopping`: Harrell's C on ``validation`` (a
    :class:`SurvivalTensors` with host targets); 0.5 if the predictions are not finite."""

    def score(module):
        return _cindex_or_half(predict_log_risk(module, validation), validation.host_event, validation.host_time)

    return score


def validation_loss(validation, ties="breslow"):
    """``score(module)`` for :class:`EarlyStopping`: minus the Cox loss (offset included) on
    ``validation``, i.e. its mean partial log-likelihood per event; -inf if not finite."""

    def score(module):
        return _minus_cox_loss(predict_log_risk(module, validation), validation.time, validation.event, ties)

    return score


class TrainingRun:
    """One module's training, an epoch at a time: the loop of :func:`train_loop`, opened up
    so that a driver can interleave several runs (:func:`train_lockstep`).

    ``begin()`` once, ``epoch()`` (one pass over event-balanced mini-batches, then the
    callbacks; returns True when a callback asked to stop) as often as wanted, ``end()``
    once, however training ended. Arguments as :func:`train_loop`'s.
    """

    def __init__(self, module, batch_loss, event, *, optimizer, batch_size, generator, callbacks=()):
        self.module, self.batch_loss, self.event = module, batch_loss, event
        self.optimizer, self.batch_size, self.generator = optimizer, batch_size, generator
        self.callbacks = list(callbacks)
        self.device = next(module.parameters()).device
        self.state = LoopState(module, {"loss": [], "interrupted": False})

    @property
    def history(self):
        return self.state.history

    def begin(self):
        for cb in self.callbacks:
            cb.on_train_begin(self.state)

    def epoch(self):
        state = self.state
        state.epoch += 1
        for cb in self.callbacks:
            cb.on_epoch_begin(state)
        self.module.train()
        order, sizes = event_balanced_batches(self.event, self.batch_size, self.generator)
        order = order.to(self.device, non_blocking=True)
        total = torch.zeros((), device=self.device)
        for idx in torch.split(order, sizes):
            loss = self.batch_loss(idx)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            total = total + loss.detach() * len(idx)
        epoch_loss = float(total) / len(self.event)  # one host sync per epoch
        if not np.isfinite(epoch_loss):
            raise FloatingPointError(
                f"the training loss became {epoch_loss} at epoch {state.epoch}; lower "
                "learning_rate_init, check the inputs for extreme values, or scale them"
            )
        state.history["loss"].append(epoch_loss)
        for cb in self.callbacks:
            cb.on_epoch_end(state)
        return state.stop

    def end(self):
        for cb in self.callbacks:
            cb.on_train_end(self.state)


def _warn_interrupted(n_epochs):
    warnings.warn(
        f"training interrupted after {n_epochs} epoch(s); keeping the best weights so far",
        UserWarning,
        stacklevel=4,
    )


def run_to_end(run, max_iter):
    """Drive one :class:`TrainingRun` for up to ``max_iter`` epochs; return its history.

    KeyboardInterrupt ends training with a warning; ``end()`` still runs (e.g. the best
    weights restored).
    """
    run.begin()
    try:
        for _ in range(max_iter):
            if run.epoch():
                break
    except KeyboardInterrupt:
        run.history["interrupted"] = True
        _warn_interrupted(len(run.history["loss"]))
    finally:
        run.end()
    return run.history


def train_loop(module, batch_loss, event, *, optimizer, max_iter, batch_size, generator, callbacks=()):
    """Train ``module`` in place with event-balanced mini-batches; return the history dict.

    Parameters
    ----------
    module : torch.nn.Module
        Its parameters' device is where the batch indices go.
    batch_loss : callable
        ``batch_loss(idx)`` -> scalar loss tensor of the training rows ``idx`` (a device
        index tensor); the caller closes over its data, forward pass and loss.
    event : ndarray of bool, shape (n,)
        Event indicators of the training rows, on the host (for the batches).
    optimizer : torch.optim.Optimizer
    max_iter : int
    batch_size : int
    generator : torch.Generator (CPU), the batch order
    callbacks : sequence of :class:`Callback`, called in order

    Returns
    -------
    history : dict with ``loss`` (per epoch), ``interrupted`` and the callbacks' entries

    Raises
    ------
    FloatingPointError
        If the training loss becomes NaN or inf.

    Notes
    -----
    One host synchronisation per epoch (the epoch loss). KeyboardInterrupt ends training
    with a warning; the callbacks' ``on_train_end`` still runs (e.g. best weights restored).
    """
    run = TrainingRun(
        module, batch_loss, event, optimizer=optimizer, batch_size=batch_size, generator=generator,
        callbacks=callbacks,
    )
    return run_to_end(run, max_iter)


def train_lockstep(runs, score, *, max_iter, n_iter_no_change=10, tol=1e-4):
    """Train several runs together, one epoch each per round, with one early stopping for all.

    After each round, ``score()`` (of all modules together, e.g. the C-index of every
    patient's out-of-fold prediction) feeds one :class:`Patience`; training stops for all
    runs at once, and every module gets back its weights of the best round (round 0: the
    initial weights). One decision on all patients instead of one per run on its own
    held-out part.

    Returns
    -------
    histories : list of dict, one per run: its ``loss`` and callbacks' entries, and the
        common ``validation_score`` (per round), ``best_epoch``, ``best_validation_score``
        and ``interrupted``.
    """
    for run in runs:
        run.begin()
    patience = Patience(score(), n_iter_no_change, tol)
    best = [copy.deepcopy(run.module.state_dict()) for run in runs]
    scores, interrupted = [], False
    try:
        for _ in range(max_iter):
            stop = [run.epoch() for run in runs]
            scores.append(score())
            if patience.update(scores[-1]):
                best = [copy.deepcopy(run.module.state_dict()) for run in runs]
            if patience.stop or all(stop):
                break
    except KeyboardInterrupt:
        interrupted = True
        _warn_interrupted(len(scores))
    finally:
        for run in runs:
            run.end()
    for run, state in zip(runs, best):
        run.module.load_state_dict(state)
    common = {"validation_score": scores, "best_epoch": patience.best_epoch,
              "best_validation_score": patience.best, "interrupted": interrupted}
    return [{**run.history, **common} for run in runs]


#: Device types whose AdamW has a fused kernel (one kernel per step for all parameters).
FUSED_ADAMW_DEVICES = ("cpu", "cuda")


def adamw(parameters, learning_rate, weight_decay):
    """AdamW over ``parameters``: fused where the device has the kernel, else foreach.

    The fused update runs in one kernel instead of one Python-driven update per tensor
    (on CPU it cut a CA-MLIF step's optimizer time from about 3.9 to 1.3 ms); same
    algorithm, values equal to float tolerance.
    """
    parameters = list(parameters)
    fused = all(p.device.type in FUSED_ADAMW_DEVICES and p.dtype.is_floating_point for p in parameters)
    kind = {"fused": True} if fused else {"foreach": True}
    return torch.optim.AdamW(parameters, lr=learning_rate, weight_decay=weight_decay, **kind)


def camlif_batch_loss(module, train, *, alignment_weight, ties, autocast_dtype=None):
    """``batch_loss(idx)`` of CA-MLIF: the Cox loss of ``offset + log-risk`` plus
    ``alignment_weight`` times the alignment loss (eq. 7, only with cross-attention).

    ``module`` may be a ``torch.compile``-d view; the loss is always in float32, the
    forward pass under ``autocast_dtype`` if given.
    """
    device_type = train.present.device.type
    use_alignment = alignment_weight > 0 and getattr(module, "cross_attention", False)

    def batch_loss(idx):
        batch = train.take(idx, host=False)
        with torch.autocast(device_type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            out = batch.forward(module)
        loss = cox_ph_loss(batch.with_offset(out.log_risk.float()), batch.time, batch.event, ties=ties)
        if use_alignment:
            loss = loss + alignment_weight * alignment_loss(
                out.original.float(), out.enhanced.float(), batch.present
            )
        return loss

    return batch_loss


def camlif_run(
    module,
    train,
    *,
    max_iter,
    batch_size,
    learning_rate,
    weight_decay,
    alignment_weight,
    ties,
    generator,
    validation=None,
    scoring="c-index",
    n_iter_no_change=10,
    tol=1e-4,
    verbose=0,
    autocast_dtype=None,
    compiled=None,
):
    """A :class:`TrainingRun` of a CA-MLIF ``module`` (not started).

    AdamW, the loss of :func:`camlif_batch_loss`, the epoch times, and with ``validation``
    (a :class:`SurvivalTensors` with host targets) early stopping on its Harrell's C
    (``scoring="c-index"``) or on its Cox loss (``scoring="loss"``).
    ``compiled`` is a ``torch.compile``-d view of ``module`` for the training forward pass.
    """
    optimizer = adamw(module.parameters(), learning_rate, weight_decay)
    callbacks = [EpochTimer()]
    if validation is not None:
        score = validation_cindex(validation) if scoring == "c-index" else validation_loss(validation, ties)
        callbacks.append(EarlyStopping(score, n_iter_no_change, tol))
    if verbose:
        callbacks.append(ProgressBar(max_iter, "CAMLIFSurvival"))
    batch_loss = camlif_batch_loss(
        compiled if compiled is not None else module, train,
        alignment_weight=alignment_weight, ties=ties, autocast_dtype=autocast_dtype,
    )
    return TrainingRun(
        module, batch_loss, train.host_event, optimizer=optimizer, batch_size=batch_size,
        generator=generator, callbacks=callbacks,
    )


def train_module(module, train, *, max_iter, **kwargs):
    """Train a CA-MLIF ``module`` in place (:func:`camlif_run`, driven to its end); return
    the history (``validation_score``, ``best_epoch``, ``best_validation_score`` always
    present)."""
    history = run_to_end(camlif_run(module, train, max_iter=max_iter, **kwargs), max_iter)
    history.setdefault("validation_score", [])
    history.setdefault("best_epoch", None)
    history.setdefault("best_validation_score", None)
    return history


def pooled_score(modules, held_outs, event, time, scoring="c-index", ties="breslow"):
    """``score()`` for :func:`train_lockstep`: every module predicts its held-out rows
    (offset included, if any) and the predictions of all rows are scored together.

    ``event``, ``time`` (host arrays) are those of the held-out rows concatenated in the
    order of ``held_outs``. ``scoring="c-index"``: Harrell's C of the pooled predictions
    (0.5 if any is not finite); "loss": minus their Cox loss (-inf if not finite).
    """
    event, time = np.asarray(event, bool), np.asarray(time, np.float64)

    def score():
        risk = torch.cat([predict_log_risk(m, h) for m, h in zip(modules, held_outs)])
        if scoring == "c-index":
            return _cindex_or_half(risk, event, time)
        return _minus_cox_loss(risk.cpu(), torch.as_tensor(time), torch.as_tensor(event), ties)

    return score

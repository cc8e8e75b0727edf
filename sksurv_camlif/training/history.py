"""One network's training record, in scikit-learn's words."""

from dataclasses import dataclass, field
from typing import List, Optional

__all__ = ["History"]


@dataclass
class History:
    """What one network's training did, epoch by epoch.

    Attributes
    ----------
    loss : list of float
        Mean training loss per epoch (scikit-learn's ``loss_curve_``).
    validation_score : list of float
        Harrell's C of the early-stopping rows after each epoch (``validation_scores_``);
        empty without early stopping.
    epoch_time : list of float
        Seconds of each epoch's training (validation excluded; with several networks
        trained at once, the time of the round the network took part in).
    best_epoch : int or None
        Epoch whose weights were kept, 0 for the initial ones; None without early stopping.
    best_validation_score : float or None
        The score of those weights (``best_validation_score_``).
    interrupted : bool
        Training was ended by KeyboardInterrupt.
    """

    loss: List[float] = field(default_factory=list)
    validation_score: List[float] = field(default_factory=list)
    epoch_time: List[float] = field(default_factory=list)
    best_epoch: Optional[int] = None
    best_validation_score: Optional[float] = None
    interrupted: bool = False

    @property
    def n_iter(self):
        """Epochs run."""
        return len(self.loss)

    def continued(self, previous):
        """This record after ``previous`` (a warm start): the curves go on; the best epoch
        and score stay those of this fit."""
        if previous is None:
            return self
        return History(previous.loss + self.loss, previous.validation_score + self.validation_score,
                       previous.epoch_time + self.epoch_time, self.best_epoch, self.best_validation_score,
                       self.interrupted)

    def sklearn_attributes(self, early_stopping):
        """This record under scikit-learn's names (``loss_curve_``, ``n_iter_``,
        ``validation_scores_``, ``best_validation_score_``, ``best_epoch_``) and as
        ``history_``, one ``{"epoch", "loss", "validation_score", "time"}`` per epoch."""
        scores = list(self.validation_score) if early_stopping else None
        times = list(self.epoch_time) + [None] * (self.n_iter - len(self.epoch_time))
        history = [{"epoch": i + 1, "loss": loss, "validation_score": score, "time": seconds}
                   for i, (loss, score, seconds) in enumerate(zip(self.loss, scores or [None] * self.n_iter, times))]
        return {"loss_curve_": list(self.loss), "n_iter_": self.n_iter, "validation_scores_": scores,
                "best_validation_score_": self.best_validation_score, "best_epoch_": self.best_epoch,
                "history_": history}

"""How networks are trained: one engine for one network or several at once.

- :mod:`.data`: the tensors on the device, event-balanced batches, prediction;
- :mod:`.stacked`: K networks' parameters as one (K, P) tensor and AdamW on it;
- :mod:`.objective`: CA-MLIF's forward pass and loss on the stacked members;
- :mod:`.engine`: the loop (batches, early stopping, interruption, progress);
- :mod:`.history`: each network's record.
"""

from .data import PREDICT_CHUNK, SurvivalTensors, cindex_or_half, event_balanced_batches, predict_log_risk
from .engine import Patience, ProgressBar, train_networks
from .history import History
from .objective import CAMLIFObjective
from .stacked import StackedAdamW, StackedParameters

__all__ = [
    "PREDICT_CHUNK",
    "CAMLIFObjective",
    "History",
    "Patience",
    "ProgressBar",
    "StackedAdamW",
    "StackedParameters",
    "SurvivalTensors",
    "cindex_or_half",
    "event_balanced_batches",
    "predict_log_risk",
    "train_networks",
]

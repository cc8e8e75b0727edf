"""Device handling, in one place: choosing the device, threads and seeding, and moving
state for pickling."""

import contextlib
import warnings

import torch
from sklearn.utils._param_validation import StrOptions

__all__ = [
    "DEVICE_CONSTRAINT",
    "is_device_string",
    "resolve_device",
    "module_state_to_cpu",
    "restore_device",
    "torch_threads",
    "seeded",
]


def is_device_string(value):
    """True for the accepted ``device`` values: "auto", "cpu", "cuda" and "cuda:N"."""
    if value in ("auto", "cpu", "cuda"):
        return True
    return isinstance(value, str) and value.startswith("cuda:") and value[5:].isdigit()


class _DeviceString(StrOptions):
    """scikit-learn parameter constraint of ``device`` (see :func:`is_device_string`)."""

    def __init__(self):
        super().__init__({"auto", "cpu", "cuda"})

    def is_satisfied_by(self, val):
        return isinstance(val, str) and is_device_string(val)

    def __str__(self):
        return "a str among {'auto', 'cpu', 'cuda', 'cuda:N'}"


#: for ``_parameter_constraints = {"device": [DEVICE_CONSTRAINT]}``
DEVICE_CONSTRAINT = _DeviceString()


def resolve_device(device):
    """Turn the ``device`` parameter ("auto", "cpu", "cuda", "cuda:N") into a torch.device."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available on this machine "
                "(torch.cuda.is_available() is False); use device='auto' or 'cpu'"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r}: this machine has {torch.cuda.device_count()} CUDA device(s)"
            )
    elif dev.type != "cpu":
        raise ValueError(f"device={device!r}: expected 'auto', 'cpu', 'cuda' or 'cuda:N'")
    return dev


def module_state_to_cpu(module):
    """A CPU copy of a module's state dict, safe to pickle and load on any machine."""
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}


def restore_device(saved_device):
    """Where to put a model unpickled from ``saved_device``; CPU, with a warning, if absent."""
    dev = torch.device(saved_device)
    if dev.type == "cuda":
        index = dev.index or 0
        if not torch.cuda.is_available() or index >= torch.cuda.device_count():
            warnings.warn(
                f"this model was trained on {saved_device} which is not available here; "
                "it was loaded on the CPU",
                UserWarning,
                stacklevel=3,
            )
            return torch.device("cpu")
    return dev


@contextlib.contextmanager
def torch_threads(n):
    """Set torch's intra-op thread count inside the block (None: leave it), then restore it."""
    old = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if n is not None:
            torch.set_num_threads(old)


@contextlib.contextmanager
def seeded(device, seed):
    """Seed torch inside the block only: the caller's global RNG states are restored after."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield

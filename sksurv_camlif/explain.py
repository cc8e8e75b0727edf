"""Per-patient contributions, read from a real forward pass of the members.

Knows no estimator: the members, the data and the names in; a dict of arrays out. The
values are captured with forward hooks during an ordinary ``eval()`` forward pass, so they
are exactly those the network used for the risk it returned.
"""

from contextlib import ExitStack

import numpy as np
import torch

__all__ = ["owc_parts", "network_internals"]


def owc_parts(module):
    """Names and widths of the parts concatenated by the optimal weight concatenation,
    in the order of :meth:`CAMLIFNet.forward` (eq. 5)."""
    n_mod = module.n_modalities
    d = module.absent.shape[1]
    use_original = not module.cross_attention or module.second_fusion
    parts = []
    if use_original:
        parts.append(("lmf_original", d))
    if module.cross_attention:
        parts.append(("lmf_enhanced", d))
        if not module.second_fusion:
            parts.append(("tokens_enhanced", n_mod * d))
    if use_original:
        parts.append(("tokens_original", n_mod * d))
    return parts


@torch.no_grad()
def network_internals(module, data, chunk_size=8192):
    """One eval-mode forward pass of ``module`` over ``data`` (SurvivalTensors, no offset).

    Returns
    -------
    dict of ndarray
        ``log_risk`` (n,); ``gate_original`` and ``gate_enhanced`` (n, M), the
        modal-attention gates (absent keys where the network has no such stage);
        ``owc_<part>`` (n,), the mean optimal-weight-concatenation weight of each part of
        :func:`owc_parts`.
    """
    captured = {}

    def keep(name, fn):
        def hook(_module, _inputs, output):
            captured.setdefault(name, []).append(fn(output).float().cpu())

        return hook

    was_training = module.training
    module.eval()
    try:
        with ExitStack() as stack:
            for attr, name in (("mam", "gate_original"), ("mam_hat", "gate_enhanced")):
                if hasattr(module, attr):
                    handle = getattr(module, attr).gate.register_forward_hook(keep(name, torch.sigmoid))
                    stack.callback(handle.remove)
            handle = module.owc.net.register_forward_hook(keep("owc", torch.sigmoid))
            stack.callback(handle.remove)
            risks = []
            for i in range(0, len(data), chunk_size):
                chunk = data.take(slice(i, i + chunk_size), host=False)
                risks.append(chunk.forward(module).log_risk.float().cpu())
    finally:
        module.train(was_training)
    out = {"log_risk": torch.cat(risks).numpy().astype(np.float64)}
    for name in ("gate_original", "gate_enhanced"):
        if name in captured:
            out[name] = torch.cat(captured[name]).numpy().astype(np.float64)
    owc = torch.cat(captured["owc"]).numpy().astype(np.float64)
    start = 0
    for name, width in owc_parts(module):
        out[f"owc_{name}"] = owc[:, start:start + width].mean(axis=1)
        start += width
    return out

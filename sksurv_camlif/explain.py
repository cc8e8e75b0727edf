"""Per-patient contributions, read from a real forward pass of the members.

Knows no estimator: the members, the data and the names in; a dict of arrays out. The
values are captured with forward hooks during an ordinary ``eval()`` forward pass, so they
are exactly those the network used for the risk it returned.
"""

from contextlib import ExitStack

import numpy as np
import pandas as pd
import torch

from .training import PREDICT_CHUNK

__all__ = ["network_internals", "linear_shares", "training_means", "explanation_frame", "summarize_explanation"]


@torch.no_grad()
def network_internals(module, data, chunk_size=PREDICT_CHUNK):
    """One eval-mode forward pass of ``module`` over ``data`` (SurvivalTensors, no offset).

    Returns
    -------
    dict of ndarray
        ``log_risk`` (n,); ``gate_original`` and ``gate_enhanced`` (n, M), the
        modal-attention gates (absent keys where the network has no such stage);
        ``owc_<part>`` (n,), the mean optimal-weight-concatenation weight of each part of
        :meth:`CAMLIFNet.fusion_parts`.
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
                chunk = data.take(slice(i, i + chunk_size))
                risks.append(chunk.forward(module).log_risk.float().cpu())
    finally:
        module.train(was_training)
    out = {"log_risk": torch.cat(risks).numpy().astype(np.float64)}
    for name in ("gate_original", "gate_enhanced"):
        if name in captured:
            out[name] = torch.cat(captured[name]).numpy().astype(np.float64)
    owc = torch.cat(captured["owc"]).numpy().astype(np.float64)
    start = 0
    for name, width in module.fusion_parts():
        out[f"owc_{name}"] = owc[:, start:start + width].mean(axis=1)
        start += width
    return out


def linear_shares(offset, weight, out):
    """The offset's weighted share ``weight * offset(x)`` in total and by block
    (``{"linear__<block>": ndarray}``); ``(None, {})`` without offset. The total is the sum of
    the blocks' shares (the offset's contract), so the design is built once."""
    if offset is None:
        return None, {}
    parts = {f"linear__{key}": weight * value for key, value in offset.contributions(out).items()}
    return np.sum(list(parts.values()), axis=0), parts


def training_means(offset, weight, out, risk, network):
    """The training patients' mean log-risk (``baseline``) and mean of every share, on
    which the explanation centres the shares."""
    linear, parts = linear_shares(offset, weight, out)
    means = {"baseline": float(risk.mean()), "network": float(network.mean())}
    if linear is not None:
        means["linear"] = float(linear.mean())
        means.update({key: float(value.mean()) for key, value in parts.items()})
    return means


def explanation_frame(index, names, present, log_risk, baseline, linear, linear_parts, network, internals):
    """The table of :meth:`CAMLIFSurvival.explain` from its parts.

    Parameters
    ----------
    index : the rows' index
    names : list of str, the modalities
    present : ndarray of bool, shape (n, M)
    log_risk : ndarray (n,), the prediction
    baseline : float, the training patients' mean log-risk
    linear : ndarray (n,) or None, the offset's centred share
    linear_parts : dict of {column: ndarray (n,)}, that share by block (adds up to ``linear``)
    network : ndarray (n,), the networks' centred share
    internals : list of dict, :func:`network_internals` of each member
    """
    columns = {"log_risk": log_risk, "baseline": np.full(len(log_risk), baseline)}
    if linear is not None:
        columns["linear"] = linear
    columns["network"] = network
    columns.update(linear_parts)
    for m, name in enumerate(names):
        columns[f"present__{name}"] = present[:, m]
    for key in internals[0] if internals else ():
        if key == "log_risk":
            continue
        mean = np.mean([i[key] for i in internals], axis=0)
        if mean.ndim == 2:
            for m, name in enumerate(names):
                columns[f"{key}__{name}"] = mean[:, m]
        else:
            columns[key.replace("owc_", "owc__", 1)] = mean
    return pd.DataFrame(columns, index=index)


def summarize_explanation(explanation):
    """Global summary over a data set of the per-patient table of ``explain(X)``.

    One row per source of the log-risk: each block of the linear offset (the modalities,
    then ``clinical``) and the ``network``; columns

    - ``mean_abs_contribution``: mean over patients of the absolute share in the log-risk
      (``|linear__<block>|``, ``|network|``), centred first, so that a block that shifts
      every patient alike counts for nothing;
    - ``share``: those means as fractions of their sum;
    - ``present``: fraction of patients with the modality present (modalities only);
    - ``gate_original``, ``gate_enhanced``: mean modal-attention gates (modalities only,
      where a network was trained).

    Parameters
    ----------
    explanation : pandas.DataFrame, from :meth:`CAMLIFSurvival.explain`

    Returns
    -------
    pandas.DataFrame indexed by source
    """
    modalities = [c.split("__", 1)[1] for c in explanation.columns if c.startswith("present__")]
    sources = modalities + (["clinical"] if "linear__clinical" in explanation else [])
    rows = {}
    for name in sources + ["network"]:
        column = "network" if name == "network" else f"linear__{name}"
        values = explanation[column] if column in explanation else pd.Series(0.0, index=explanation.index)
        row = {"mean_abs_contribution": float((values - values.mean()).abs().mean())}
        if name in modalities:
            row["present"] = float(explanation[f"present__{name}"].mean())
            for kind in ("original", "enhanced"):
                gate = f"gate_{kind}__{name}"
                row[f"gate_{kind}"] = float(explanation[gate].mean()) if gate in explanation else np.nan
        rows[name] = row
    summary = pd.DataFrame.from_dict(rows, orient="index")
    total = summary["mean_abs_contribution"].sum()
    summary.insert(1, "share", summary["mean_abs_contribution"] / total if total > 0 else np.nan)
    return summary

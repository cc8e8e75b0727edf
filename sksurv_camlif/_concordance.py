"""Harrell's concordance index of many risk scores at once, in O(m n sqrt(n)).

The package scores thousands of candidate predictors during a fit (every penalty of the
offset's paths on every inner fold, every blending weight, every member's epoch), so it
computes Harrell's C for all of them in one vectorised pass instead of one call to
:func:`sksurv.metrics.concordance_index_censored` per predictor (a Python loop over the
events). The value is scikit-survival's (tests check it): a pair (i, j) is comparable when
i had an event and ``time[j] > time[i]``, or ``time[j] == time[i]`` and j is censored; it
counts 1 when ``risk[i] > risk[j]`` and 1/2 when the risks differ by at most ``1e-8``.

How: with g the rank of a patient's time among the distinct times, j is comparable to the
event i exactly when ``2 g[j] + censored[j] >= 2 g[i] + 1``. Sorted by that key, the
patients comparable to i are a prefix of length ``L[i]``, and the pairs i wins are the
patients of that prefix whose risk rank is below a threshold. Counts "below a threshold in
a prefix" come from blocks of about sqrt(n) patients sorted by risk (one binary search per
block) plus a direct comparison within the last, partial block.
"""

import numpy as np

__all__ = ["harrell_c"]

_TIED_TOL = 1e-8
#: Elements of a query-chunk x block x predictors comparison (32 MB of int64).
_CHUNK = 1 << 22


def harrell_c(event, time, risk):
    """Harrell's C of one or many risk scores.

    Parameters
    ----------
    event : array-like of bool, shape (n,)
    time : array-like of float, shape (n,)
    risk : array-like of float, shape (n,) or (n, m)
        Higher: earlier event.

    Returns
    -------
    float, or ndarray of shape (m,) for a 2-d ``risk``: NaN where there is no comparable
    pair (no event, or every event at the last time).
    """
    event = np.asarray(event, dtype=bool)
    time = np.asarray(time, dtype=np.float64)
    risk = np.asarray(risk, dtype=np.float64)
    scores = risk.reshape(len(time), -1)
    n, m = scores.shape
    rank_of_time = np.unique(time, return_inverse=True)[1].ravel()
    key = 2 * rank_of_time + ~event
    order = np.argsort(-key, kind="stable")
    events = np.flatnonzero(event)
    prefix = np.searchsorted(-key[order], -(2 * rank_of_time[events] + 1), side="right")
    comparable = int(prefix.sum())
    if comparable == 0:
        nan = np.full(m, np.nan)
        return float(nan[0]) if risk.ndim == 1 else nan

    # risk ranks (position in each column's sorted order) and, per event, the number of
    # values below r_i - tol (won) and at most r_i + tol (won or tied)
    ranked = np.sort(scores, axis=0)
    rank = np.empty((n, m), dtype=np.int64)
    rank[np.argsort(scores, axis=0, kind="stable"), np.arange(m)] = np.arange(n)[:, None]
    below = np.empty((len(events), 2 * m), dtype=np.int64)
    for c in range(m):
        below[:, c] = np.searchsorted(ranked[:, c], scores[events, c] - _TIED_TOL, side="left")
        below[:, m + c] = np.searchsorted(ranked[:, c], scores[events, c] + _TIED_TOL, side="right")
    counts = _prefix_counts(np.concatenate([rank, rank], axis=1)[order], prefix, below)
    won, won_or_tied = counts[:m], counts[m:]
    c = (won + 0.5 * (won_or_tied - won)) / comparable
    return float(c[0]) if risk.ndim == 1 else c


def _prefix_counts(values, length, threshold):
    """``sum_i #{p < length[i] : values[p, c] < threshold[i, c]}`` per column c.

    values : (n, k) int, each column a permutation of 0..n-1; length : (q,);
    threshold : (q, k).
    """
    n, k = values.shape
    size = max(8, int(np.sqrt(n)))
    full = length // size  # whole blocks inside each prefix
    total = np.zeros(k, dtype=np.int64)
    offsets = np.arange(k) * n  # keeps the columns apart in one sorted array
    for b in range(int(full.max(initial=0))):
        block = np.sort(values[b * size:(b + 1) * size], axis=0)
        flat = (block + offsets).T.ravel()
        inside = full > b
        hits = np.searchsorted(flat, threshold[inside] + offsets) - np.arange(k) * block.shape[0]
        total += hits.sum(axis=0)
    step = max(1, _CHUNK // (size * k))
    for start in range(0, len(length), step):
        ln, fl = length[start:start + step], full[start:start + step]
        rows = fl[:, None] * size + np.arange(size)  # the partial block's rows, (q, size)
        valid = rows < ln[:, None]
        tail = values[np.minimum(rows, n - 1)]  # (q, size, k)
        total += ((tail < threshold[start:start + step, None, :]) & valid[:, :, None]).sum(axis=(0, 1))
    return total

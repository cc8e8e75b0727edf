"""Speed and memory benchmarks of CAMLIFSurvival; prints tables and checks the targets.

    python benchmarks/speed.py --quick                      # smoke run
    python benchmarks/speed.py --sizes 1000,10000,100000 --epochs 3 --large-epochs 1 \\
        --out docs/speed_results.json --report docs/speed.md   # every CPU section, the page
    python benchmarks/speed.py --sections t,w --out docs/speed_results.json --report docs/speed.md
    python benchmarks/speed.py --device cuda --cpu-reference docs/speed_results.json

``--out`` merges into an existing file (the sections run now replace their figures, each
with its date, load and code version); ``--report`` writes the page from that file
(``speed_report.py``), with ``--sections none`` without measuring anything.

Sections
--------
a. Training throughput: ``CAMLIFSurvival(early_stopping=False, max_iter=E)`` on synthetic
   data shaped like the real sets (two blocks of 200 and 500 features and 5 clinical
   columns; Cox model with exponential baseline hazard, about 50% censoring) for each
   ``--sizes``; batch sizes: the estimator's default and 1024. ``DeepSurvMLP``
   (``benchmarks/deepsurv.py``) on the same data, epochs and batch size is the comparison
   row (target: one network's fit at most 10x the MLP's). The per-epoch time is measured
   inside the fit by the shared training loop's ``EpochTimer`` (``history_`` /
   ``epoch_times_``; the first epoch is left out when there are 2 or more); fit time
   includes everything else (block transformers, ridge Cox start of the clinical path,
   prediction on the training set and the Breslow baseline).
   Target: per-epoch time grows at most linearly with n (ratio <= 1.1 x the size ratio;
   100k/10k <= 11).
b. Cross-attention cost: ``GlobalContextCrossAttention`` (width 256, 8 heads, 2 modalities)
   against standard softmax cross-attention of the same width (Q from one modality, K and V
   from the other, both directions), forward + backward. Two softmax baselines: "math"
   (the T x T attention matrix materialised, as ``nn.MultiheadAttention`` with
   ``need_weights=True`` or the math kernel) and "sdpa" (``F.scaled_dot_product_attention``,
   a fused flash kernel that never stores the T x T matrix). Each case runs in its own
   subprocess; peak memory is the growth of the resident set at its peak over one forward
   + backward on the CPU (VmHWM reset through /proc/self/clear_refs just before),
   ``torch.cuda.max_memory_allocated`` on CUDA.
   Targets at 4096 tokens: >= 10x faster and >= 10x less peak memory than softmax.
c. A default fit (``default_gbmlgg_estimator``) on the training part of split 1 of the
   bundled TCGA-GBMLGG data, each in a fresh process: ``n_threads=1``, torch's default
   thread count, and torch's default with ``OMP_WAIT_POLICY=PASSIVE``.
   Target: < 10 s on 2 CPU cores.
e. Members trained at once: fits of the fitting protocol on the same split as c, each in a
   fresh process with one torch thread. Same epochs (``early_stopping=False``,
   ``--member-epochs``): one member (``n_members=1``) and five members (trained at once, as
   always); then the default fit (early stopping). Target: five members at most 2.5x one
   member's fit (same epochs).
f. Arithmetic per step: the matmul floating-point operations (``torch.utils.flop_counter``)
   of one training epoch of one CAMLIF network and of the DeepSurv MLP on the data of
   section a (the smallest ``--sizes``, the default batch), as the difference between fits
   of 3 and 1 epochs, per step; and the forward pass of one CAMLIF batch per top-level
   part of the network. Their ratio is the floor of the per-epoch ratio of section a for
   kernels of equal efficiency.
t. Tall data: scikit-survival's flchain (75 % to train), the default fit against
   ``GradientBoostingSurvivalAnalysis()``, one thread, each fit in a fresh process, the two
   alternated ``--repeats`` times. Target: at most 1.5x (medians).
w. Wide data: 800 synthetic training patients with blocks of 5,000 and 2,000 features, the
   default fit against a user's 5-fold elastic-net Cox CV (``CoxnetCV``), alternated as in t
   (target: at most 4x); then one default fit with a 20,000-feature block (it must fit).
d. With ``--device cuda``: sections a-c and e on CUDA (``torch.cuda.synchronize()`` around every
   time stamp). Target: at n = 100k, CUDA throughput >= 20x the 2-core CPU figure, taken
   from the CPU rows of the same run (``--device both``) or from ``--cpu-reference``.

Sections a and b use ``--threads`` torch threads (default 1; 0 is torch's default). The
machine load (``os.getloadavg()``) is printed with every section and table row: on a
shared machine timings are noisy.
"""

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from deepsurv import DeepSurvMLP  # noqa: E402

from sksurv_camlif import CAMLIFSurvival  # noqa: E402

P_A, P_B, P_CLIN = 200, 500, 5
LARGE_N = 50_000  # sizes from here on train --large-epochs epochs
ATTN_WIDTH, ATTN_HEADS = 256, 8


# ---------------------------------------------------------------------------------- utils
def load():
    return "load avg (1/5/15 min): " + " / ".join(f"{x:.2f}" for x in os.getloadavg())


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown"


def _fmt(value, spec):
    return "-" if value is None else format(value, spec)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def table(rows, columns, title=None):
    """Print a list of dicts as a fixed-width table; columns: (key, header, format)."""
    if title:
        print(f"\n{title}")
    cells = [[("-" if r.get(k) is None else fmt.format(r[k])) for k, _, fmt in columns] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, (_, h, _) in enumerate(columns)]
    print("  ".join(h.rjust(w) for (_, h, _), w in zip(columns, widths)))
    for c in cells:
        print("  ".join(x.rjust(w) for x, w in zip(c, widths)))


# -------------------------------------------------------------------- synthetic data
def make_synthetic(n, censoring=0.5, seed=0):
    """Two correlated feature blocks (200 + 500) and 5 clinical columns; Cox times.

    Features: 10 latent factors shared by the blocks plus noise (float32, standardised
    scale). Log-risk: 10 informative features in each block and all clinical columns,
    scaled to standard deviation 1. Event times: exponential baseline hazard 0.1, i.e.
    ``T = E / (0.1 exp(eta))``, E ~ Exp(1). Censoring times: exponential, their rate found by
    bisection so that about ``censoring`` of the patients are censored.
    """
    rng = np.random.default_rng(seed)
    p = P_A + P_B + P_CLIN
    latent = rng.standard_normal((n, 10), dtype=np.float32)
    load_ = rng.standard_normal((10, p)).astype(np.float32) * 0.3
    X = rng.standard_normal((n, p), dtype=np.float32)
    X += latent @ load_
    X /= np.float32(np.sqrt(1 + 10 * 0.09))
    beta = np.zeros(p)
    beta[rng.choice(P_A, 10, replace=False)] = rng.normal(0, 1, 10)
    beta[P_A + rng.choice(P_B, 10, replace=False)] = rng.normal(0, 1, 10)
    beta[P_A + P_B :] = rng.normal(0, 1, P_CLIN)
    eta = X.astype(np.float64) @ beta
    eta = (eta - eta.mean()) / eta.std()
    hazard = 0.1 * np.exp(eta)
    t_event = rng.exponential(1.0, n) / hazard
    lo, hi = 1e-8, 1e3  # censoring rate: P(censored) = mean(c / (c + hazard))
    for _ in range(60):
        mid = np.sqrt(lo * hi)
        lo, hi = (mid, hi) if np.mean(mid / (mid + hazard)) < censoring else (lo, mid)
    t_cens = rng.exponential(1.0, n) / np.sqrt(lo * hi)
    y = np.empty(n, dtype=[("event", bool), ("time", float)])
    y["event"] = t_event <= t_cens
    y["time"] = np.minimum(t_event, t_cens)
    return X, y


def camlif_estimator_for_synthetic(**params):
    """One CAMLIF network (the plain network: no offset, one member), so that per-epoch
    times compare one network with one MLP."""
    params = {"offset": None, "n_members": 1, **params}
    spec = [
        ("a", "passthrough", list(range(P_A))),
        ("b", "passthrough", list(range(P_A, P_A + P_B))),
    ]
    return CAMLIFSurvival(spec, clinical=list(range(P_A + P_B, P_A + P_B + P_CLIN)), **params)


# ------------------------------------------------------------------------ epoch timing
def epoch_times(est):
    """Seconds of training per epoch, as the shared training loop's ``EpochTimer``
    recorded them inside the fit (after its per-epoch host sync, so right on CUDA too)."""
    if isinstance(est, CAMLIFSurvival):
        return [h["time"] for h in est.history_]
    return list(est.epoch_times_)


def time_fit(model, X, y, *, batch_size, epochs, device, n_threads):
    common = dict(max_iter=epochs, batch_size=batch_size, early_stopping=False,
                  device=str(device), n_threads=n_threads, random_state=0)
    est = camlif_estimator_for_synthetic(**common) if model == "CAMLIF" else DeepSurvMLP(**common)
    sync(device)
    t0 = time.perf_counter()
    est.fit(X, y)
    sync(device)
    fit_time = time.perf_counter() - t0
    epochs_t = epoch_times(est)
    if len(epochs_t) != epochs:  # the hooks did not fire as expected: whole fit / epochs
        per_epoch, measured, how = fit_time / epochs, fit_time, "fit/E"
    else:
        used = epochs_t[1:] if epochs >= 2 else epochs_t
        per_epoch, measured, how = float(np.mean(used)), float(sum(epochs_t)), "in-fit"
    n = X.shape[0]
    return {
        "model": model, "n": n, "batch": batch_size, "epochs": epochs, "device": str(device),
        "fit_s": fit_time, "train_s": measured, "overhead_s": fit_time - measured,
        "epoch_s": per_epoch, "first_epoch_s": epochs_t[0] if epochs_t else None,
        "throughput": n / per_epoch, "timing": how, "n_batches": int(np.ceil(n / batch_size)),
    }


def section_training(args, device):
    print(f"\n=== a. Training throughput on {device} ({load()})")
    default_batch = CAMLIFSurvival([]).get_params()["batch_size"]
    batches = sorted({default_batch, 1024})
    rows = []
    for n in args.sizes:
        t0 = time.perf_counter()
        X, y = make_synthetic(n, seed=n)
        epochs = args.large_epochs if n >= LARGE_N else args.epochs
        print(f"n={n}: {X.shape[1]} features, {1 - y['event'].mean():.0%} censored "
              f"(data {time.perf_counter() - t0:.1f} s); {epochs} epoch(s); {load()}", flush=True)
        for batch in batches:
            for model in ("CAMLIF", "DeepSurv"):
                row = time_fit(model, X, y, batch_size=batch, epochs=epochs, device=device,
                               n_threads=args.threads)
                row["load1"] = os.getloadavg()[0]
                rows.append(row)
                print(f"  {model:<8} batch {batch:>5}: fit {row['fit_s']:8.2f} s, "
                      f"epoch {row['epoch_s']:8.3f} s, {row['throughput']:10.0f} patients/s",
                      flush=True)
        del X, y
    table(rows, [
        ("model", "model", "{}"), ("n", "n", "{:d}"), ("batch", "batch", "{:d}"),
        ("epochs", "E", "{:d}"), ("fit_s", "fit (s)", "{:.2f}"),
        ("overhead_s", "non-epoch (s)", "{:.2f}"), ("epoch_s", "s/epoch", "{:.3f}"),
        ("throughput", "patients*epochs/s", "{:.0f}"), ("load1", "load1", "{:.1f}"),
    ], f"Training, {device}, n_threads={args.threads} (torch threads {torch.get_num_threads()})")

    scaling = []
    for model in ("CAMLIF", "DeepSurv"):
        for batch in batches:
            sub = {r["n"]: r for r in rows if r["model"] == model and r["batch"] == batch}
            sizes = sorted(sub)
            for small, large in zip(sizes, sizes[1:]):
                ratio = sub[large]["epoch_s"] / sub[small]["epoch_s"]
                limit = 1.1 * large / small
                scaling.append({"model": model, "batch": batch, "from": small, "to": large,
                                "ratio": ratio, "limit": limit, "met": ratio <= limit})
    table(scaling, [("model", "model", "{}"), ("batch", "batch", "{:d}"), ("from", "n from", "{:d}"),
                    ("to", "n to", "{:d}"), ("ratio", "s/epoch ratio", "{:.2f}"),
                    ("limit", "target <=", "{:.1f}"), ("met", "met", "{}")],
          "Per-epoch time scaling (target: at most linear, ratio <= 1.1 x size ratio)")
    return rows, scaling


# ------------------------------------------------------------------- cross-attention
class SoftmaxCrossAttention(torch.nn.Module):
    """Standard bidirectional softmax cross-attention: Q from one modality, K, V from the
    other, multi-head, output projection; ``kernel="math"`` materialises the T x T matrix,
    ``kernel="sdpa"`` uses ``F.scaled_dot_product_attention``."""

    def __init__(self, d_model, n_heads, kernel="math"):
        super().__init__()
        nn = torch.nn
        self.h, self.dh, self.kernel = n_heads, d_model // n_heads, kernel
        self.q = nn.ModuleList(nn.Linear(d_model, d_model) for _ in range(2))
        self.kv = nn.ModuleList(nn.Linear(d_model, 2 * d_model) for _ in range(2))
        self.out = nn.ModuleList(nn.Linear(d_model, d_model) for _ in range(2))

    def _heads(self, x):
        b, t, _ = x.shape
        return x.reshape(b, t, self.h, self.dh).transpose(1, 2)

    def _attend(self, m, x_q, x_kv):
        q = self._heads(self.q[m](x_q))
        k, v = (self._heads(z) for z in self.kv[m](x_kv).chunk(2, dim=-1))
        if self.kernel == "math":
            p = torch.softmax(q @ k.transpose(-1, -2) / self.dh**0.5, dim=-1)
            o = p @ v
        else:
            o = torch.nn.functional.scaled_dot_product_attention(q, k, v)
        return self.out[m](o.transpose(1, 2).reshape(x_q.shape))

    def forward(self, tokens, present=None):
        a, b = tokens
        return [self._attend(0, a, b), self._attend(1, b, a)]


def _proc_status_kb(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _cpu_peak_growth(step):
    """Bytes by which the resident set grows at its peak during ``step()``.

    Linux: the peak RSS (VmHWM) is reset to the current RSS by writing 5 to
    /proc/self/clear_refs, so the growth is measured from the state just before the call.
    Elsewhere (or if that is not allowed) the growth of ``ru_maxrss``, which understates it
    when the process was bigger earlier.
    """
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        before = _proc_status_kb("VmRSS")
        step()
        return (_proc_status_kb("VmHWM") - before) * 1024
    except OSError:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        step()
        return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024


def attention_case(spec):
    """Run in a subprocess: one (method, tokens) case; returns time and peak memory."""
    device = torch.device(spec["device"])
    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    b, t = spec["batch"], spec["tokens"]
    if spec["method"] == "global":
        from sksurv_camlif.nn import GlobalContextCrossAttention

        module = GlobalContextCrossAttention(ATTN_WIDTH, ATTN_HEADS, 2)
    else:
        module = SoftmaxCrossAttention(ATTN_WIDTH, ATTN_HEADS, spec["method"].split("-")[1])
    module = module.to(device)
    xs = [torch.randn(b, t, ATTN_WIDTH, device=device, requires_grad=True) for _ in range(2)]
    present = torch.ones(b, 2, dtype=torch.bool, device=device)

    def step():
        out = module(xs, present)
        loss = sum(o.float().sum() for o in out)
        loss.backward()
        for x in xs:
            x.grad = None
        module.zero_grad(set_to_none=True)

    sync(device)
    if device.type == "cuda":
        step()  # CUDA context, kernels and cuBLAS workspaces first
        sync(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        step()
        sync(device)
        peak = torch.cuda.max_memory_allocated(device) - base
    else:
        step()  # first call: lazy initialisations, thread pools
        peak = _cpu_peak_growth(step)
    step()  # warm-up
    times, budget = [], time.perf_counter() + spec["budget_s"]
    while len(times) < spec["max_reps"] and (len(times) < spec["min_reps"] or time.perf_counter() < budget):
        sync(device)
        t0 = time.perf_counter()
        step()
        sync(device)
        times.append(time.perf_counter() - t0)
    return {"time_s": statistics.median(times), "reps": len(times), "peak_bytes": int(peak)}


def run_attention_case(spec, timeout):
    return _subprocess_case("--attention-case", spec, timeout)


def section_attention(args, device):
    print(f"\n=== b. Cross-attention cost on {device}: width {ATTN_WIDTH}, {ATTN_HEADS} heads, "
          f"2 modalities, batch {args.attn_batch}, forward + backward ({load()})")
    methods = ["global", "softmax-math", "softmax-sdpa"]
    rows = []
    for tokens in args.tokens:
        row = {"tokens": tokens, "device": str(device), "batch": args.attn_batch}
        for method in methods:
            spec = {"method": method, "tokens": tokens, "batch": args.attn_batch, "device": str(device),
                    "threads": args.threads, "budget_s": 0.5 if args.quick else 2.0,
                    "min_reps": 2 if args.quick else 3, "max_reps": 50}
            res = run_attention_case(spec, timeout=args.attn_timeout)
            if "error" in res:
                print(f"  T={tokens} {method}: {res['error']}", flush=True)
                row[f"{method}_ms"] = row[f"{method}_mb"] = None
                continue
            row[f"{method}_ms"] = 1e3 * res["time_s"]
            row[f"{method}_mb"] = res["peak_bytes"] / 2**20
        for base in ("math", "sdpa"):
            g_ms, g_mb = row["global_ms"], row["global_mb"]
            s_ms, s_mb = row[f"softmax-{base}_ms"], row[f"softmax-{base}_mb"]
            row[f"speedup_{base}"] = s_ms / g_ms if g_ms and s_ms else None
            # memory growth under 1 MiB is below what ru_maxrss resolves here
            row[f"mem_ratio_{base}"] = s_mb / max(g_mb, 1.0) if g_mb is not None and s_mb is not None else None
        row["load1"] = os.getloadavg()[0]
        rows.append(row)
        print(f"  T={tokens}: " + ", ".join(
            f"{m} {_fmt(row[f'{m}_ms'], '.2f')} ms / {_fmt(row[f'{m}_mb'], '.1f')} MiB" for m in methods),
            flush=True)
    mem = "peak RSS growth" if device.type == "cpu" else "max_memory_allocated"
    table(rows, [
        ("tokens", "tokens", "{:d}"),
        ("global_ms", "global ms", "{:.2f}"), ("softmax-math_ms", "math ms", "{:.2f}"),
        ("softmax-sdpa_ms", "sdpa ms", "{:.2f}"),
        ("global_mb", "global MiB", "{:.1f}"), ("softmax-math_mb", "math MiB", "{:.1f}"),
        ("softmax-sdpa_mb", "sdpa MiB", "{:.1f}"),
        ("speedup_math", "x faster (math)", "{:.1f}"), ("mem_ratio_math", "x less mem (math)", "{:.1f}"),
        ("speedup_sdpa", "x faster (sdpa)", "{:.1f}"), ("mem_ratio_sdpa", "x less mem (sdpa)", "{:.1f}"),
        ("load1", "load1", "{:.1f}"),
    ], f"Cross-attention forward+backward, {device} (memory: {mem}; ratios vs the global-context "
       "module, its memory floored at 1 MiB)")
    return rows


# ------------------------------------------------------------------------------ GBMLGG
def gbmlgg_case(spec):
    """Run in a subprocess: one default fit on the train part of split 1."""
    from sksurv_camlif.datasets import load_tcga_gbmlgg
    from sksurv_camlif.presets import default_gbmlgg_estimator

    device = torch.device(spec["device"])
    data = load_tcga_gbmlgg()
    mask = data.splits[1].to_numpy()
    train, test = np.flatnonzero(mask), np.flatnonzero(~mask)
    est = default_gbmlgg_estimator(random_state=0, X=data.X, modalities=data.modalities,
                                   device=str(device), n_threads=spec["n_threads"], **spec.get("params", {}))
    if device.type == "cuda":
        torch.zeros(1, device=device).sum().item()
    sync(device)
    t0 = time.perf_counter()
    est.fit(data.X.iloc[train], data.y[train])
    sync(device)
    wall = time.perf_counter() - t0
    return {"fit_s": wall, "epochs": est.n_iter_, "n_train": len(train), "member_epochs": est.member_n_iter_,
            "torch_threads": spec["n_threads"] or torch.get_num_threads(),
            "test_c": est.score(data.X.iloc[test], data.y[test])}


def _subprocess_case(flag, spec, timeout, env=None):
    cmd = [sys.executable, str(Path(__file__).resolve()), flag, json.dumps(spec)]
    env = {**os.environ, **(env or {})}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE.parent), os.environ.get("PYTHONPATH")]))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout} s"}
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def section_gbmlgg(args, device):
    print(f"\n=== c. Default fit on TCGA-GBMLGG split 1 (train part) on {device}, each in a fresh "
          f"process ({load()})")
    if device.type == "cpu":
        # torch's default thread count, and the same with OpenMP's passive wait policy (idle
        # threads sleep instead of spinning: matters when the cores are shared)
        settings = [(1, {}), (None, {}), (None, {"OMP_WAIT_POLICY": "PASSIVE"})]
    else:
        settings = [(None, {})]
    rows = []
    for rep in range(args.repeats):
        for threads, env in settings:
            load1 = os.getloadavg()[0]
            res = _subprocess_case("--gbmlgg-case", {"device": str(device), "n_threads": threads},
                                   timeout=600, env=env)
            label = "default" if threads is None else str(threads)
            if "error" in res:
                print(f"  n_threads={label} {env}: {res['error']}", flush=True)
                continue
            res.update({"n_threads": label, "env": " ".join(f"{k}={v}" for k, v in env.items()) or "-",
                        "repeat": rep + 1, "load1": load1, "met": res["fit_s"] < 10.0,
                        "device": str(device), "s_per_epoch": res["fit_s"] / res["epochs"]})
            rows.append(res)
            print(f"  n_threads={label} ({res['torch_threads']} threads, {res['env']}): "
                  f"{res['fit_s']:.2f} s, {res['epochs']} epochs", flush=True)
    table(rows, [("n_threads", "n_threads", "{}"), ("torch_threads", "threads", "{}"), ("env", "env", "{}"),
                 ("repeat", "rep", "{}"), ("fit_s", "fit (s)", "{:.2f}"), ("epochs", "epochs", "{}"),
                 ("s_per_epoch", "s/epoch", "{:.3f}"), ("test_c", "test C", "{:.4f}"),
                 ("load1", "load1", "{:.1f}"), ("met", "< 10 s", "{}")],
          f"TCGA-GBMLGG default fit ({rows[0]['n_train'] if rows else '?'} patients), {device}")
    return rows


def section_members(args, device):
    print(f"\n=== e. Members at once on TCGA-GBMLGG split 1 (train part) on {device}, each fit in a "
          f"fresh process with one thread ({load()})")
    same = {"early_stopping": False, "max_iter": args.member_epochs}
    cases = [
        ("1 member", {**same, "n_members": 1}),
        ("5 members", same),
        ("default fit", {}),
    ]
    rows = []
    for rep in range(args.repeats):
        for label, params in cases:
            load1 = os.getloadavg()[0]
            res = _subprocess_case("--gbmlgg-case", {"device": str(device), "n_threads": 1, "params": params},
                                   timeout=600)
            if "error" in res:
                print(f"  {label}: {res['error']}", flush=True)
                continue
            res.update({"case": label, "repeat": rep + 1, "load1": load1, "device": str(device),
                        "member_epochs": sum(res["member_epochs"])})
            rows.append(res)
            print(f"  {label}: {res['fit_s']:.2f} s, {res['member_epochs']} member-epochs, "
                  f"test C {res['test_c']:.4f}", flush=True)
    table(rows, [("case", "fit", "{}"), ("repeat", "rep", "{}"), ("fit_s", "fit (s)", "{:.2f}"),
                 ("member_epochs", "member-epochs", "{}"), ("test_c", "test C", "{:.4f}"),
                 ("load1", "load1", "{:.1f}")], f"Members at once, {device}")
    return rows



# ---------------------------------------------------------------- tall and wide data
TALL_LABS, TALL_HISTORY, TALL_CLINICAL = ["kappa", "lambda", "creatinine"], ["flc.grp", "mgus"], ["age", "sex"]
WIDE_N, WIDE_TRAIN = 1000, 800


def tall_data():
    """scikit-survival's flchain (7,874 patients; the cause-of-death column left out), a
    random 75 % to train and 25 % to test."""
    from sksurv.datasets import load_flchain

    X, y = load_flchain()
    X = X[TALL_LABS + TALL_HISTORY + TALL_CLINICAL].copy()
    for c in TALL_HISTORY + ["sex"]:
        X[c] = X[c].astype(str)
    order = np.random.default_rng(0).permutation(len(X))
    cut = int(0.75 * len(X))
    return X, y, order[:cut], order[cut:]


def wide_data(widths, n=WIDE_N, seed=0):
    """Omics-shaped synthetic data: one block per width (10 latent factors shared by the
    blocks plus noise), one clinical column; log-risk from 10 features of each block and
    the clinical column, standard deviation 1; exponential times, about 50 % censored.
    The first ``WIDE_TRAIN`` patients train, the rest test."""
    rng = np.random.default_rng(seed)
    p = sum(widths) + 1
    latent = rng.standard_normal((n, 10), dtype=np.float32)
    X = rng.standard_normal((n, p), dtype=np.float32)
    for start in range(0, p, 2000):  # latent structure in chunks: bounded memory at 20,000 columns
        stop = min(p, start + 2000)
        X[:, start:stop] += latent @ (rng.standard_normal((10, stop - start)).astype(np.float32) * 0.3)
    beta = np.zeros(p)
    start = 0
    for w in widths:
        beta[start + rng.choice(w, 10, replace=False)] = rng.normal(0, 0.5, 10)
        start += w
    beta[-1] = 0.5
    eta = X.astype(np.float64) @ beta
    eta = (eta - eta.mean()) / eta.std()
    t_event = rng.exponential(1.0, n) / (0.1 * np.exp(eta))
    t_cens = rng.exponential(1.0, n) / (0.1 * np.exp(eta)).mean()
    y = np.empty(n, dtype=[("event", bool), ("time", float)])
    y["event"] = t_event <= t_cens
    y["time"] = np.minimum(t_event, t_cens)
    idx = np.arange(n)
    return X, y, idx[:WIDE_TRAIN], idx[WIDE_TRAIN:]


def _tall_preprocessor():
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = make_pipeline(SimpleImputer(), StandardScaler())
    return ColumnTransformer([
        ("num", numeric, TALL_LABS + ["age"]),
        ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), TALL_HISTORY + ["sex"]),
    ])


def _tall_camlif(**params):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    labs = make_pipeline(SimpleImputer(), StandardScaler())
    onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    clinical = ColumnTransformer([("age", StandardScaler(), ["age"]), ("sex", onehot, ["sex"])])
    return CAMLIFSurvival([("labs", labs, TALL_LABS), ("history", onehot, TALL_HISTORY)],
                          clinical=(clinical, TALL_CLINICAL), **params)


def _wide_camlif(widths, **params):
    spec, start = [], 0
    for i, w in enumerate(widths):
        spec.append((f"omics{i + 1}", "passthrough", list(range(start, start + w))))
        start += w
    return CAMLIFSurvival(spec, clinical=[start], **params)


class CoxnetCV:
    """A 5-fold cross-validated elastic-net Cox model as a user fits one: scikit-survival's
    path (``l1_ratio=0.5``, its default 100 alphas) on all training patients, the same
    alphas on each fold's training part, the alpha of the best mean held-out Harrell's C."""

    def __init__(self, l1_ratio=0.5, n_folds=5, random_state=0):
        self.l1_ratio, self.n_folds, self.random_state = l1_ratio, n_folds, random_state

    def _path(self, X, y, alphas=None):
        import warnings

        from sksurv.linear_model import CoxnetSurvivalAnalysis

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return CoxnetSurvivalAnalysis(l1_ratio=self.l1_ratio, alphas=alphas, alpha_min_ratio=0.01).fit(X, y)

    def fit(self, X, y):
        from sklearn.model_selection import KFold
        from sksurv.metrics import concordance_index_censored

        full = self._path(X, y)
        alphas = full.alphas_
        scores = np.full((self.n_folds, len(alphas)), np.nan)
        folds = KFold(self.n_folds, shuffle=True, random_state=self.random_state).split(X)
        for k, (tr, te) in enumerate(folds):
            coef = self._path(X[tr], y[tr], alphas).coef_
            for j in range(coef.shape[1]):
                scores[k, j] = concordance_index_censored(y["event"][te], y["time"][te], X[te] @ coef[:, j])[0]
        best = int(np.nanargmax(np.nanmean(scores, axis=0)))
        self.coef_ = full.coef_[:, min(best, full.coef_.shape[1] - 1)]
        return self

    def predict(self, X):
        return X @ self.coef_


def fit_case(spec):
    """Run in a subprocess: one fit on tall or wide data, timed, scored on the test part."""
    from sklearn.pipeline import make_pipeline
    from sksurv.ensemble import GradientBoostingSurvivalAnalysis
    from sksurv.metrics import concordance_index_censored

    torch.set_num_threads(1)
    if spec["data"] == "tall":
        X, y, train, test = tall_data()
        X_train, X_test = X.iloc[train], X.iloc[test]
    else:
        X, y, train, test = wide_data(spec["widths"])
        X_train, X_test = X[train], X[test]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    model = spec["model"]
    if model == "camlif":
        build = _tall_camlif if spec["data"] == "tall" else (lambda **kw: _wide_camlif(spec["widths"], **kw))
        est = build(random_state=0, device="cpu", n_threads=1, **spec.get("params", {}))
    elif model == "gbsa":
        est = make_pipeline(_tall_preprocessor(), GradientBoostingSurvivalAnalysis(random_state=0))
    else:
        est = CoxnetCV()
    t0 = time.perf_counter()
    est.fit(X_train, y[train])
    fit_s = time.perf_counter() - t0
    risk = est.predict(X_test)
    out = {"data": spec["data"], "model": model, "fit_s": fit_s, "n_train": len(train), "widths": spec.get("widths"),
           "n_features": int(X.shape[1]),
           "test_c": float(concordance_index_censored(y[test][y.dtype.names[0]], y[test][y.dtype.names[1]], risk)[0]),
           "peak_rss_mib": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024}
    if model == "camlif":
        # the members train as one stack: the longest member's epochs span every round
        out["members_s"] = max(sum(h.epoch_time) for h in est.histories_)
        out["member_epochs"] = [int(e) for e in est.member_n_iter_]
    return out


def _fit_rows(cases, device, label, repeats):
    """Each case in a fresh process, the cases alternated ``repeats`` times (so that a change
    of the machine's speed during the run falls on both sides of a ratio)."""
    rows = []
    for rep, (name, spec) in ((r, c) for r in range(repeats) for c in cases):
        load1 = os.getloadavg()[0]
        res = _subprocess_case("--fit-case", spec, timeout=1200)
        if "error" in res:
            print(f"  {name}: {res['error']}", flush=True)
            rows.append({"case": name, **spec, "error": res["error"], "repeat": rep + 1})
            continue
        res.update({"case": name, "load1": load1, "device": str(device), "repeat": rep + 1})
        rows.append(res)
        print(f"  {name}: fit {res['fit_s']:.1f} s, test C {res['test_c']:.4f}, "
              f"peak memory +{res['peak_rss_mib']:.0f} MiB", flush=True)
    table([r for r in rows if "error" not in r], [("case", "fit", "{}"), ("repeat", "rep", "{}"),
                                                  ("n_train", "n train", "{}"), ("n_features", "columns", "{}"),
                 ("fit_s", "fit (s)", "{:.1f}"), ("members_s", "members (s)", "{:.1f}"),
                 ("test_c", "test C", "{:.4f}"), ("peak_rss_mib", "peak +MiB", "{:.0f}"),
                 ("load1", "load1", "{:.1f}")], label)
    return rows


def section_tall(args, device):
    print(f"\n=== t. Tall data: flchain, default fit against gradient boosting, one thread, each in "
          f"a fresh process ({load()})")
    if device.type != "cpu":
        return []
    cases = [("CAMLIF default", {"data": "tall", "model": "camlif"}),
             ("GradientBoostingSurvivalAnalysis()", {"data": "tall", "model": "gbsa"})]
    return _fit_rows(cases, device, "Tall data (flchain), one thread", args.repeats)


def section_wide(args, device):
    print(f"\n=== w. Wide data: {WIDE_TRAIN} training patients, default fit against a 5-fold Coxnet CV, "
          f"one thread, each in a fresh process ({load()})")
    if device.type != "cpu":
        return []
    cases = [("CAMLIF default", {"data": "wide", "model": "camlif", "widths": [5000, 2000]}),
             ("Coxnet, 5-fold CV", {"data": "wide", "model": "coxnet", "widths": [5000, 2000]})]
    rows = _fit_rows(cases, device, "Wide data (synthetic omics), one thread", args.repeats)
    if not args.quick:  # once: it shows that the fit runs and what it costs
        big = [("CAMLIF default, one 20,000-feature block", {"data": "wide", "model": "camlif", "widths": [20000]})]
        rows += _fit_rows(big, device, "Wide data, one 20,000-feature block", 1)
    return rows


# ----------------------------------------------------------------------------- targets
def _epoch_flops(model, X, y, batch, device):
    """Matmul FLOPs of one training epoch: a 3-epoch fit minus a 1-epoch fit, halved."""
    from torch.utils.flop_counter import FlopCounterMode

    totals = []
    for epochs in (1, 3):
        common = dict(max_iter=epochs, batch_size=batch, early_stopping=False, device=str(device),
                      n_threads=1, random_state=0)
        est = camlif_estimator_for_synthetic(**common) if model == "CAMLIF" else DeepSurvMLP(**common)
        with FlopCounterMode(display=False) as counter:
            est.fit(X, y)
        totals.append(counter.get_total_flops())
    return (totals[1] - totals[0]) / 2, est


def _forward_flops_by_part(est, batch, device):
    """Forward FLOPs of one batch of the fitted CAMLIF network, per top-level submodule."""
    from torch.utils.flop_counter import FlopCounterMode

    net = est.members_[0].train()
    widths = [P_A, P_B]
    blocks = [torch.randn(batch, p, device=device) for p in widths]
    present = torch.ones(batch, len(widths), dtype=torch.bool, device=device)
    with FlopCounterMode(display=False) as counter:
        net(blocks, present, torch.randn(batch, P_CLIN, device=device))
    counts = {name: sum(ops.values()) for name, ops in counter.get_flop_counts().items()}
    root = type(net).__name__
    parts = {}
    for name, child in net.named_children():
        # a ModuleList is never called itself: its items are counted
        keys = [f"{root}.{name}.{i}" for i in range(len(child))] if isinstance(child, torch.nn.ModuleList) \
            else [f"{root}.{name}"]
        parts[name] = sum(counts.get(k, 0) for k in keys)
    return parts


def section_flops(args, device):
    n = min(args.sizes)
    batch = CAMLIFSurvival([]).get_params()["batch_size"]
    print(f"\n=== f. Matmul arithmetic per training step on {device} (n={n}, batch {batch})")
    X, y = make_synthetic(n, seed=n)
    steps = int(np.ceil(n / batch))
    rows, fitted = [], None
    for model in ("CAMLIF", "DeepSurv"):
        per_epoch, est = _epoch_flops(model, X, y, batch, device)
        fitted = est if model == "CAMLIF" else fitted
        rows.append({"model": model, "gflop_epoch": per_epoch / 1e9, "mflop_step": per_epoch / steps / 1e6})
    rows[0]["ratio"] = rows[0]["gflop_epoch"] / rows[1]["gflop_epoch"]
    table(rows, [("model", "model", "{}"), ("gflop_epoch", "GFLOP/epoch", "{:.3f}"),
                 ("mflop_step", "MFLOP/step", "{:.1f}"), ("ratio", "CAMLIF / DeepSurv", "{:.1f}x")],
          "Matmul FLOPs (forward + backward + optimizer) per epoch")
    parts = _forward_flops_by_part(fitted, batch, device)
    total = sum(parts.values())
    table([{"part": k, "mflop": v / 1e6, "share": v / total} for k, v in sorted(parts.items(), key=lambda kv: -kv[1])],
          [("part", "CAMLIFNet part", "{}"), ("mflop", "forward MFLOP", "{:.2f}"), ("share", "share", "{:.0%}")],
          f"Forward FLOPs of one CAMLIF batch of {batch}, by part")
    return {"epoch": rows, "forward_parts": parts}


def check_targets(results, cpu_reference):
    from speed_report import median_fit_s

    targets = []

    def add(name, value, goal, met):
        targets.append({"target": name, "value": value, "goal": goal, "met": bool(met)})

    for dev, block in results["devices"].items():
        for s in block.get("scaling", []):
            if s["model"] == "CAMLIF":
                add(f"[{dev}] CAMLIF s/epoch {s['to']}/{s['from']} (batch {s['batch']})",
                    f"{s['ratio']:.2f}", f"<= {s['limit']:.1f}", s["met"])
        rows = block.get("training", [])
        for r in rows:
            mlp = [m for m in rows if m["model"] == "DeepSurv" and (m["n"], m["batch"]) == (r["n"], r["batch"])]
            if r["model"] == "CAMLIF" and mlp:
                ratio = r["fit_s"] / mlp[0]["fit_s"]
                add(f"[{dev}] one CAMLIF network / MLP fit, n={r['n']} batch {r['batch']}", f"{ratio:.1f}x",
                    "<= 10x", ratio <= 10)
        tall = median_fit_s([r for r in block.get("tall", []) if "error" not in r])
        if {"camlif", "gbsa"} <= set(tall):
            ratio = tall["camlif"] / tall["gbsa"]
            add(f"[{dev}] tall data: default fit / gradient boosting", f"{ratio:.2f}x", "<= 1.5x", ratio <= 1.5)
        wide = median_fit_s([r for r in block.get("wide", []) if "error" not in r and max(r["widths"]) < 10_000])
        if {"camlif", "coxnet"} <= set(wide):
            ratio = wide["camlif"] / wide["coxnet"]
            add(f"[{dev}] wide data: default fit / 5-fold Coxnet CV", f"{ratio:.2f}x", "<= 4x", ratio <= 4)
        for r in block.get("wide", []):
            if max(r["widths"]) >= 10_000:
                value = r["error"] if "error" in r else f"{r['fit_s']:.0f} s, +{r['peak_rss_mib']:.0f} MiB"
                add(f"[{dev}] a {max(r['widths']):,}-feature block fits", value, "fits", "error" not in r)
        att = [r for r in block.get("attention", []) if r["tokens"] == 4096]
        for r in att:
            for base in ("math", "sdpa"):
                sp, mr = r.get(f"speedup_{base}"), r.get(f"mem_ratio_{base}")
                if sp is not None:
                    add(f"[{dev}] 4096 tokens: faster than softmax-{base}", f"{sp:.1f}x", ">= 10x", sp >= 10)
                if mr is not None:
                    add(f"[{dev}] 4096 tokens: less peak memory than softmax-{base}", f"{mr:.1f}x",
                        ">= 10x", mr >= 10)
        for r in block.get("gbmlgg", []):
            add(f"[{dev}] GBMLGG default fit, n_threads={r['n_threads']} {r['env']} (rep {r['repeat']})",
                f"{r['fit_s']:.2f} s", "< 10 s", r["met"])

        members = {}
        for r in block.get("members", []):
            members.setdefault(r["case"], []).append(r["fit_s"])
        one, five = members.get("1 member"), members.get("5 members")
        if one and five:
            ratio = statistics.median(five) / statistics.median(one)
            add(f"[{dev}] 5 members / 1 member (same epochs)", f"{ratio:.2f}x", "<= 2.5x", ratio <= 2.5)

    # CUDA vs the 2-core CPU at the largest size
    ref_rows = results["devices"].get("cpu", {}).get("training")
    ref_src = "this run"
    if not ref_rows and cpu_reference:
        ref_rows, ref_src = cpu_reference, "reference file"
    for dev, block in results["devices"].items():
        if not dev.startswith("cuda") or not ref_rows:
            continue
        for r in block.get("training", []):
            if r["model"] != "CAMLIF" or r["n"] < LARGE_N:
                continue
            ref = [c for c in ref_rows if c["model"] == "CAMLIF" and c["n"] == r["n"] and c["batch"] == r["batch"]]
            if ref:
                ratio = r["throughput"] / ref[0]["throughput"]
                add(f"[{dev}] CAMLIF n={r['n']} batch {r['batch']}: throughput vs CPU ({ref_src})",
                    f"{ratio:.1f}x", ">= 20x", ratio >= 20)
    table(targets, [("target", "target", "{}"), ("value", "measured", "{}"), ("goal", "goal", "{}"),
                    ("met", "met", "{}")], "Targets")
    return targets


# -------------------------------------------------------------------------------- main
#: section letter -> (the names of its figures in the results, the function that measures them)
SECTIONS = {
    "t": (("tall",), section_tall),
    "w": (("wide",), section_wide),
    "c": (("gbmlgg",), section_gbmlgg),
    "e": (("members",), section_members),
    "a": (("training", "scaling"), section_training),
    "f": (("flops",), section_flops),
    "b": (("attention",), section_attention),
}


def code_version():
    """The commit and the package's source fingerprint (as the benchmark's cache keys)."""
    from benchmark import code_fingerprint, software_info

    return {"git": software_info().get("git"), "package": code_fingerprint("camlif")}


def write_report(results, path):
    from speed_report import render

    Path(path).write_text(render(results))
    print(f"wrote {path}")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fast smoke run (small sizes and token counts)")
    parser.add_argument("--device", default="cpu",
                        help="cpu, cuda, cuda:N, auto, or both (CPU then CUDA); default cpu")
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated patient counts")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per fit")
    parser.add_argument("--large-epochs", type=int, default=1, help=f"epochs per fit from n >= {LARGE_N}")
    parser.add_argument("--tokens", default="16,64,256,1024,4096", help="cross-attention token counts")
    parser.add_argument("--attn-batch", type=int, default=1, help="cross-attention batch size")
    parser.add_argument("--attn-timeout", type=int, default=300, help="seconds per attention case")
    parser.add_argument("--threads", type=int, default=1,
                        help="n_threads of the fits of sections a and b; 0: torch's default "
                             "(default 1: on a shared 2-core machine 2 threads were several "
                             "times slower)")
    parser.add_argument("--repeats", type=int, default=2, help="repeats of the GBMLGG fit")
    parser.add_argument("--sections", default="a,b,c,e,f,t,w",
                        help="which of a,b,c,e,f,t,w to run; none: only --report")
    parser.add_argument("--member-epochs", type=int, default=15, help="epochs of the same-epochs fits of section e")
    parser.add_argument("--cpu-reference", default=None,
                        help="JSON of an earlier CPU run (--out) for the CUDA/CPU throughput ratio")
    parser.add_argument("--out", default=None,
                        help="JSON file of the figures; sections run now replace their earlier figures there")
    parser.add_argument("--report", default=None,
                        help="write the Markdown page (docs/speed.md) from the figures of --out")
    parser.add_argument("--attention-case", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--gbmlgg-case", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--fit-case", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        if args.sizes == parser.get_default("sizes"):
            args.sizes = "500,5000"
        if args.epochs == parser.get_default("epochs"):
            args.epochs = 2
        if args.tokens == parser.get_default("tokens"):
            args.tokens = "16,256,1024"
        if args.repeats == parser.get_default("repeats"):
            args.repeats = 1
        if args.member_epochs == parser.get_default("member_epochs"):
            args.member_epochs = 2
    args.threads = args.threads or None
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    args.tokens = [int(s) for s in args.tokens.split(",") if s]
    args.sections = set(args.sections.split(","))
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.report and not args.sections - {"none"}:  # --report alone: the page from --out's figures
        write_report(json.loads(Path(args.out).read_text()), args.report)
        return
    if args.attention_case is not None:
        print(json.dumps(attention_case(json.loads(args.attention_case))))
        return
    if args.gbmlgg_case is not None:
        print(json.dumps(gbmlgg_case(json.loads(args.gbmlgg_case))))
        return
    if args.fit_case is not None:
        print(json.dumps(fit_case(json.loads(args.fit_case))))
        return

    from sksurv_camlif.device import resolve_device

    if args.device == "both":
        devices = [torch.device("cpu"), resolve_device("cuda")]
    else:
        devices = [resolve_device(args.device)]
    meta = {
        "cpu": cpu_model(), "logical_cpus": os.cpu_count(), "torch": torch.__version__,
        "torch_threads_default": torch.get_num_threads(), "python": platform.python_version(),
        "load_start": os.getloadavg(), "argv": sys.argv[1:], "quick": args.quick,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    from benchmark import hardware_info, software_info

    meta["hardware"], meta["software"] = hardware_info(), software_info()
    print(f"CPU: {meta['cpu']}, {meta['logical_cpus']} logical CPUs; torch {meta['torch']} "
          f"(default threads {meta['torch_threads_default']}); CUDA: {meta['cuda']}")
    print(load())
    # --out merges into an existing file: sections not run now keep their earlier figures
    previous = Path(args.out) if args.out else None
    results = json.loads(previous.read_text()) if previous and previous.exists() else {"devices": {}}
    results["meta"] = meta
    t_start = time.perf_counter()
    for device in devices:
        if device.type == "cuda":
            torch.zeros(1, device=device).sum().item()  # create the context outside the timings
        block = results["devices"].setdefault(str(device), {})
        for section in SECTIONS:
            if section not in args.sections:
                continue
            start_load = os.getloadavg()[0]
            names, run = SECTIONS[section]
            figures = run(args, device)
            figures = figures if len(names) > 1 else (figures,)
            for name, value in zip(names, figures):
                block[name] = value
                block.setdefault("_measured", {})[name] = {
                    "date": time.strftime("%Y-%m-%d"), "load": [start_load, os.getloadavg()[0]],
                    "code": code_version(), "threads": args.threads, "quick": args.quick}

    cpu_reference = None
    if args.cpu_reference and Path(args.cpu_reference).exists():
        ref = json.loads(Path(args.cpu_reference).read_text())
        cpu_reference = ref.get("devices", {}).get("cpu", {}).get("training")
    results["targets"] = check_targets(results, cpu_reference)
    meta["load_end"] = os.getloadavg()
    meta["wall_s"] = time.perf_counter() - t_start
    print(f"\nTotal {meta['wall_s']:.0f} s; {load()}")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=1, default=str))
        print(f"wrote {args.out}")
    if args.report:
        write_report(results, args.report)


if __name__ == "__main__":
    main()

"""The speed page (``docs/speed.md``) from the figures of ``benchmarks/speed.py --out``.

    python benchmarks/speed.py --sections none --out docs/speed_results.json --report docs/speed.md

Every number on the page comes from that JSON file; the text around the tables says what
was measured, never a figure of its own.
"""

import statistics

COMMANDS = """```bash
python benchmarks/speed.py --out docs/speed_results.json --report docs/speed.md  # every CPU section
python benchmarks/speed.py --sections t,w --out docs/speed_results.json --report docs/speed.md
python benchmarks/speed.py --quick                                                # smoke run
python benchmarks/speed.py --device cuda --out docs/speed_results.json --report docs/speed.md
```"""


def _num(value, spec):
    return "-" if value is None else format(value, spec)


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _when(block, name, footnotes):
    """'Measured <date>, load average a-b [n]' for the figures ``name`` of a device block."""
    info = block.get("_measured", {}).get(name)
    if not info:
        return "Measured before the page recorded dates."
    code = info.get("code") or {}
    label = f"commit {code.get('git') or '?'}, package sources {code.get('package') or '?'}"
    if label not in footnotes:
        footnotes.append(label)
    lo, hi = sorted(info["load"])
    quick = " (smoke settings: `--quick`)" if info.get("quick") else ""
    return (f"Measured {info['date']}{quick}, 1-minute load average {lo:.1f}-{hi:.1f}, code "
            f"[^{footnotes.index(label) + 1}].")


def _ratio(a, b):
    return a / b if a and b else None


def median_fit_s(rows):
    """{model: median fit time over its repeats} (the page's ratios and speed.py's targets)."""
    times = {}
    for r in rows:
        times.setdefault(r["model"], []).append(r["fit_s"])
    return {m: statistics.median(t) for m, t in times.items()}


def _cost(block, footnotes):
    out = ["## What a default fit costs", "",
           "A default `CAMLIFSurvival()` against the model a user would otherwise fit, on the same "
           "data, each fit in a fresh process with one torch thread. Time is wall-clock for "
           "`fit`; peak memory is the growth of the process's peak resident set during the fit."]
    tall = [r for r in block.get("tall", []) if "error" not in r]
    if tall:
        by = median_fit_s(tall)
        out += ["", "**Tall data**: scikit-survival's `load_flchain` (the cause-of-death column left out; "
                f"{tall[0]['n_train']:,} training patients, a random 75 %), blocks `labs` (kappa, lambda, "
                "creatinine) and `history` (FLC group, MGUS; one-hot), clinical age and sex. "
                "`GradientBoostingSurvivalAnalysis()` on the same columns (imputed, scaled, one-hot).", "",
                _when(block, "tall", footnotes), "",
                _table(["model", "repeat", "fit (s)", "of which the members (s)", "test C", "peak memory (MiB)"],
                       [[r["case"], r.get("repeat", 1), f"{r['fit_s']:.1f}", _num(r.get("members_s"), ".1f"),
                         f"{r['test_c']:.3f}", f"{r['peak_rss_mib']:.0f}"] for r in tall])]
        ratio = _ratio(by.get("camlif"), by.get("gbsa"))
        if ratio:
            out += ["", f"The default fit costs **{ratio:.2f}x** gradient boosting's (medians of the repeats, "
                    "the two models alternated)."]
    wide = block.get("wide", [])
    if wide:
        ok = [r for r in wide if "error" not in r]
        out += ["", "**Wide data**: synthetic omics-shaped data (1,000 patients, "
                f"{ok[0]['n_train'] if ok else 800} to train, 200 to test; blocks of correlated "
                "features with 10 informative features each, one clinical column, about 50 % "
                "censored). The comparison is a 5-fold cross-validated elastic-net Cox model as a user "
                "fits one: scikit-survival's path (`l1_ratio=0.5`, its 100 alphas) on all training "
                "patients and on each fold, the alpha of the best held-out C.", "",
                _when(block, "wide", footnotes), "",
                _table(["model", "blocks", "repeat", "fit (s)", "of which the members (s)", "test C",
                        "peak memory (MiB)"],
                       [[r["case"], " + ".join(f"{w:,}" for w in r.get("widths") or [r["n_features"] - 1]),
                         r.get("repeat", 1),
                         *( [r["error"], "-", "-", "-"] if "error" in r else
                            [f"{r['fit_s']:.1f}", _num(r.get("members_s"), ".1f"), f"{r['test_c']:.3f}",
                             f"{r['peak_rss_mib']:.0f}"])] for r in wide])]
        seven = [r for r in ok if max(r.get("widths") or [0]) < 10_000]
        by = median_fit_s(seven)
        ratio = _ratio(by.get("camlif"), by.get("coxnet"))
        if ratio:
            members = statistics.median([r.get("members_s") or 0.0 for r in seven if r["model"] == "camlif"])
            out += ["", f"On 7,000 features the default fit costs **{ratio:.2f}x** the Coxnet's "
                    f"cross-validation (medians, alternated). The members take {members:.0f} s of it; the "
                    "rest is mostly the offset's inner cross-validation (a path for each elastic-net "
                    "mixing on each fold)."]
    return out


def _gbmlgg(block, footnotes):
    rows = block.get("gbmlgg", [])
    if not rows:
        return []
    return ["## The default fit on the bundled data", "",
            "`default_gbmlgg_estimator(random_state=0)` fitted on the training part of split 1 of "
            f"TCGA-GBMLGG ({rows[0]['n_train']} patients), each fit in a fresh process. One torch "
            "thread is the default on the CPU: where other processes share the cores, OpenMP's "
            "worker threads spin while they wait for each other (`OMP_WAIT_POLICY=PASSIVE` makes "
            "them sleep).", "", _when(block, "gbmlgg", footnotes), "",
            _table(["threads", "environment", "fit (s)", "epochs", "test C"],
                   [[r["n_threads"] if r["n_threads"] != "default" else f"torch's default ({r['torch_threads']})",
                     r["env"], f"{r['fit_s']:.2f}", r["epochs"], f"{r['test_c']:.4f}"] for r in rows])]


def _members(block, footnotes):
    rows = block.get("members", [])
    if not rows:
        return []
    by = {}
    for r in rows:
        by.setdefault(r["case"], []).append(r["fit_s"])
    out = ["## Members trained at once", "",
           "The five members of a default fit train as one stacked network: their parameters are "
           "the rows of one tensor, one forward pass runs every member on its own batch "
           "(`torch.func.vmap`), one backward pass gives each its gradient, one AdamW step updates "
           "the rows. Fits on GBMLGG split 1, one thread, each in a fresh process; the same number "
           "of epochs for one and for five members.", "", _when(block, "members", footnotes), "",
           _table(["fit", "fit (s)", "member-epochs", "test C"],
                  [[r["case"], f"{r['fit_s']:.2f}", r["member_epochs"], f"{r['test_c']:.4f}"] for r in rows])]
    one, five = by.get("1 member"), by.get("5 members")
    if one and five:
        out += ["", f"Five members cost **{statistics.median(five) / statistics.median(one):.2f}x** one "
                "(medians); the one-member fit includes the fixed costs (blocks, offset)."]
    return out


def _network(block, footnotes):
    rows = block.get("training", [])
    if not rows:
        return []
    pairs = []
    for r in rows:
        if r["model"] != "CAMLIF":
            continue
        mlp = [m for m in rows if m["model"] == "DeepSurv" and (m["n"], m["batch"]) == (r["n"], r["batch"])]
        if mlp:
            m = mlp[0]
            pairs.append([f"{r['n']:,}", r["batch"], r["epochs"], f"{r['fit_s']:.2f}", f"{m['fit_s']:.2f}",
                          f"{r['fit_s'] / m['fit_s']:.1f}x", f"{r['epoch_s']:.3f}", f"{m['epoch_s']:.3f}",
                          f"{r['epoch_s'] / m['epoch_s']:.1f}x"])
    out = ["## One network against an MLP", "",
           "Synthetic data shaped like the real sets (blocks of 200 and 500 features, 5 clinical "
           "columns, Cox times, about 50 % censored). One CA-MLIF network with the default widths "
           "(`offset=None, n_members=1, early_stopping=False`) against `DeepSurvMLP` "
           "(`benchmarks/deepsurv.py`: a 705-64-64-1 MLP with the same Cox loss and batches) on the "
           "same data, epochs and batch sizes, one thread. The per-epoch time leaves out the first "
           "epoch.", "", _when(block, "training", footnotes), "",
           _table(["n", "batch", "epochs", "CA-MLIF fit (s)", "MLP fit (s)", "fit ratio",
                   "CA-MLIF s/epoch", "MLP s/epoch", "epoch ratio"], pairs)]
    scaling = [s for s in block.get("scaling", []) if s["model"] == "CAMLIF"]
    if scaling:
        out += ["", "Per-epoch time against n (at most linear: each ratio at most 1.1x the size ratio):", "",
                _table(["batch", "n", "time ratio", "limit"],
                       [[s["batch"], f"{s['from']:,} -> {s['to']:,}", f"{s['ratio']:.2f}", f"{s['limit']:.1f}"]
                        for s in scaling])]
    flops = block.get("flops")
    if flops:
        ep = flops["epoch"]
        parts = flops["forward_parts"]
        total = sum(parts.values()) or 1
        out += ["", "The matmul arithmetic of one training epoch (`torch.utils.flop_counter`; a 3-epoch "
                "fit minus a 1-epoch fit, halved), the floor of the epoch ratio for kernels of equal "
                "efficiency, and the forward pass of one batch by part of the network:", "",
                _when(block, "flops", footnotes), "",
                _table(["model", "GFLOP per epoch", "MFLOP per step"],
                       [[r["model"], f"{r['gflop_epoch']:.3f}", f"{r['mflop_step']:.1f}"] for r in ep]), "",
                f"Ratio: **{ep[0]['ratio']:.1f}x**. Forward pass by part: " + ", ".join(
                    f"{k} {v / total:.0%}" for k, v in sorted(parts.items(), key=lambda kv: -kv[1])) + "."]
    return out


def _attention(block, footnotes):
    rows = block.get("attention", [])
    if not rows:
        return []
    return ["## Cross-attention cost", "",
            "The global-context cross-attention (width 256, 8 heads, 2 modalities; per head a "
            "d_h x d_h context instead of a tokens x tokens matrix) against softmax cross-attention "
            "of the same width, forward + backward, batch 1, one thread, each case in its own "
            "process. **math** materialises the attention matrix (as `nn.MultiheadAttention` with "
            "`need_weights=True`); **SDPA** is `torch.nn.functional.scaled_dot_product_attention`, "
            "whose fused kernel never stores it. Memory: growth of the resident set at its peak; "
            "growths under about 1 MiB are below what this resolves. Below a few hundred tokens "
            "(CA-MLIF uses 4-16 per modality) the global-context module is not faster: its "
            "projections are wider.", "", _when(block, "attention", footnotes), "",
            _table(["tokens", "global (ms)", "math (ms)", "SDPA (ms)", "global (MiB)", "math (MiB)", "SDPA (MiB)"],
                   [[f"{r['tokens']:,}", _num(r.get("global_ms"), ".2f"), _num(r.get("softmax-math_ms"), ".2f"),
                     _num(r.get("softmax-sdpa_ms"), ".2f"), _num(r.get("global_mb"), ".1f"),
                     _num(r.get("softmax-math_mb"), ".1f"), _num(r.get("softmax-sdpa_mb"), ".1f")] for r in rows])]


def render(results):
    """The Markdown page of ``results`` (the JSON of ``speed.py --out``)."""
    meta = results.get("meta", {})
    hw, sw = meta.get("hardware", {}), meta.get("software", {})
    cpu = results["devices"].get("cpu", {})
    footnotes = []
    lines = ["# Speed", "",
             "What a fit costs, next to the models users compare it with, and where the time goes. "
             "This page is written by `benchmarks/speed.py` from the figures it measured "
             "(`docs/speed_results.json`); rerun it to measure your own machine:", "", COMMANDS, "",
             "## Machine", "",
             _table(["", ""], [
                 ["CPU", f"{hw.get('Model name', meta.get('cpu', '?'))}, {hw.get('usable_cpus', meta.get('logical_cpus'))} "
                         f"usable cores, {hw.get('memory_gib', '?')} GiB"],
                 ["Software", ", ".join(f"{k} {v}" for k, v in sw.items() if k != "git")],
                 ["GPU", meta.get("cuda") or "none"],
             ]), "",
             "Timings on a machine shared with other jobs vary with the load; each table gives its "
             "date and load average, and ratios are taken within one run."]
    for part in (_cost, _gbmlgg, _members, _network, _attention):
        body = part(cpu, footnotes)
        if body:
            lines += [""] + body
    cuda = [d for d in results["devices"] if d.startswith("cuda")]
    lines += ["", "## CUDA", ""]
    if cuda:
        lines += [f"Figures on {meta.get('cuda') or cuda[0]} are in `docs/speed_results.json` under "
                  f"`devices.{cuda[0]}`; the targets below include them."]
    else:
        lines += ["Not measured: the machine that wrote this page has no GPU. "
                  "`benchmarks/gpu_check.sh` runs every GPU check in one command (its header says how)."]
    targets = results.get("targets") or []
    if targets:
        lines += ["", "## Targets", "",
                  _table(["target", "measured", "goal", "met"],
                         [[t["target"], t["value"], t["goal"], "yes" if t["met"] else "**no**"] for t in targets])]
    if footnotes:
        lines += [""] + [f"[^{i + 1}]: {label}" for i, label in enumerate(footnotes)]
    return "\n".join(lines) + "\n"

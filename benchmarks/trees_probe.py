"""Research probe for the issue "accuracy beyond linear": trees or the linear offset?

Everything is measured on INNER folds: the training part of each benchmark split
(``benchmarks/datasets.py``) is cut into 5 folds stratified by the event (as
``benchmarks/select_defaults.py`` draws them, seed 0); every model is fitted on 4 folds and
scored (Harrell's C) on the fifth. The test parts of the splits are never read. Differences
are paired over (split, fold); "+-" is the standard error of the mean paired difference.

Parts (each writes its rows to ``--out-dir``, default ``benchmarks/results/trees_probe/``,
as JSON after every fold, and resumes from them; ``--report`` prints the tables only):

``diagnose`` (GSE7390): inner C of the benchmark's Coxnet, GBSA (100 trees of depth 3), GBSA
stumps (``max_depth=1``: an additive model of single-column thresholds; 100 and 300 trees),
GBSA on the 76 genes alone and RSF; and which columns GBSA uses (impurity importances of the
GBSA fitted on each split's whole training part, their stability over splits).

``offset``: :class:`TreeOrLinearOffset` (below) inside the full ``CAMLIFSurvival`` of the
benchmark (``build_model("camlif", ds, seed=split).set_params(offset=...)``). One fit per
(split, fold) gives every variant at once: the members do not depend on the offset (they are
trained on the same inner folds with the same seed whatever the offset), so the networks'
out-of-fold predictions are recorded during the fit and the weight w of each offset variant
(``linear`` = the default ``CoxnetOffset``, ``tree`` = always GBSA, ``mean``, ``rule2`` = GBSA
if it beats the Coxnet by more than one s.e. on the inner folds else the Coxnet, ``rule3`` =
the same with the mean as a third candidate) is chosen again by the package's own
``blend_out_of_fold``. Each variant is scored with its members (the full model) and alone
(``residual_weights=[0]``: the offset alone, w = 0). ``--check`` also fits, on the first
split, the real default ``CAMLIFSurvival``, the real ``residual_weights=[0]`` model and the
real ``offset=TreeOrLinearOffset()`` model, and prints the largest gap to the derived scores
(0 up to float rounding if the derivation is faithful).

Reproduce the figures of the report (about an hour on two shared cores)::

    nice -n 19 python benchmarks/trees_probe.py --part diagnose --datasets gse7390 --splits 15
    nice -n 19 python benchmarks/trees_probe.py --part offset --datasets gse7390 --splits 15 --check
    nice -n 19 python benchmarks/trees_probe.py --part offset --datasets wpbc --splits 15
    nice -n 19 python benchmarks/trees_probe.py --part offset --datasets gbmlgg --splits 5
    nice -n 19 python benchmarks/trees_probe.py --part offset --datasets metabric --splits 2  # 3 asked; 2 in time
    python benchmarks/trees_probe.py --report
"""

import argparse
import copy
import importlib.util
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import StratifiedKFold
from sksurv.ensemble import GradientBoostingSurvivalAnalysis
from sksurv.metrics import concordance_index_censored

import sksurv_camlif.estimator as camlif_estimator
from sksurv_camlif.protocol.offset import CoxnetOffset

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_OUT = BENCH_DIR / "results" / "trees_probe"
N_FOLDS = 5
VARIANTS = ("linear", "tree", "mean", "rule2", "rule3")


def _benchmark():
    name = "_camlif_bench_benchmark"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, BENCH_DIR / "benchmark.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _surv(event, time_):
    y = np.empty(len(event), dtype=[("event", bool), ("time", np.float64)])
    y["event"], y["time"] = event, time_
    return y


def _cindex(event, time_, risk):
    if not np.any(event):
        return np.nan
    return concordance_index_censored(np.asarray(event, bool), time_, risk)[0]


def _fold_scores(fold, event, time_, risk):
    return np.array([_cindex(event[fold == k], time_[fold == k], risk[fold == k]) for k in range(int(fold.max()) + 1)])


def _beats(candidate, reference):
    """Mean paired gain of ``candidate`` over ``reference`` (per fold), its s.e., and whether
    the gain exceeds one s.e."""
    ok = ~(np.isnan(candidate) | np.isnan(reference))
    d = candidate[ok] - reference[ok]
    if len(d) < 2:
        return 0.0, 0.0, False
    se = d.std(ddof=1) / np.sqrt(len(d))
    return float(d.mean()), float(se), bool(d.mean() > se)


# ------------------------------------------------------------------------ the candidate
class TreeOrLinearOffset(BaseEstimator):
    """Offset that is the default Coxnet offset or a gradient-boosted Cox model (GBSA).

    Both are fitted on the same design (the Coxnet offset's ``_design``: the standardised
    block outputs, the clinical block and its spline basis) and scored on the inner folds
    ``fold`` (the Coxnet by its own out-of-fold predictor, GBSA by one fit per fold). GBSA's
    log-hazard ratio is kept when its mean paired gain in inner C over the Coxnet exceeds one
    standard error of the fold differences; otherwise the Coxnet. With ``mean_candidate``, the
    mean of the two log-risks is a third candidate: among the candidates that beat the Coxnet
    by more than one s.e., the one of highest mean inner C is kept. ``oof_`` is the winner's
    out-of-fold predictor.

    Parameters
    ----------
    linear : offset or None, default=None (``CoxnetOffset()``)
    n_estimators, learning_rate, max_depth, min_samples_leaf : GBSA's (defaults as sksurv's)
    mean_candidate : bool, default=False
    random_state : int, default=0

    Attributes
    ----------
    linear_ : the fitted linear offset
    tree_ : the GBSA refitted on all training patients
    choice_ : {"linear", "tree", "mean"}
    fold_scores_ : dict of candidate -> ndarray (n_folds,), held-out C per inner fold
    candidate_oof_ : dict of candidate -> out-of-fold predictor
    oof_, feature_names_
    fit_times_ : dict, seconds spent on the linear offset and on the trees
    """

    def __init__(self, linear=None, n_estimators=100, learning_rate=0.1, max_depth=3, min_samples_leaf=1,
                 mean_candidate=False, random_state=0):
        self.linear = linear
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.mean_candidate = mean_candidate
        self.random_state = random_state

    def _gbsa(self):
        return GradientBoostingSurvivalAnalysis(
            n_estimators=self.n_estimators, learning_rate=self.learning_rate, max_depth=self.max_depth,
            min_samples_leaf=self.min_samples_leaf, random_state=self.random_state,
        )

    def fit(self, outputs, event, time, *, fold, ties="breslow"):
        t0 = _clock()
        self.linear_ = clone(self.linear) if self.linear is not None else CoxnetOffset()
        self.linear_.fit(outputs, event, time, fold=fold, ties=ties)
        t1 = _clock()
        Z = self.linear_._design(outputs)
        y = _surv(event, time)
        tree_oof = np.zeros(len(Z))
        for k in range(int(fold.max()) + 1):
            tr, te = fold != k, fold == k
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree_oof[te] = self._gbsa().fit(Z[tr], y[tr]).predict(Z[te])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.tree_ = self._gbsa().fit(Z, y)
        self.fit_times_ = {"linear": t1 - t0, "tree": _clock() - t1}
        self.candidate_oof_ = {"linear": self.linear_.oof_, "tree": tree_oof,
                               "mean": 0.5 * (self.linear_.oof_ + tree_oof)}
        self.fold_scores_ = {k: _fold_scores(fold, event, time, v) for k, v in self.candidate_oof_.items()}
        self.choice_ = self.rule(self.fold_scores_, self.mean_candidate)
        self.oof_ = self.candidate_oof_[self.choice_].copy()
        self.feature_names_ = self.linear_.feature_names_
        return self

    @staticmethod
    def rule(fold_scores, mean_candidate):
        """The candidate kept: see the class description."""
        names = ("tree", "mean") if mean_candidate else ("tree",)
        winners = [n for n in names if _beats(fold_scores[n], fold_scores["linear"])[2]]
        if not winners:
            return "linear"
        return max(winners, key=lambda n: np.nanmean(fold_scores[n]))

    def chosen(self, choice):
        """A shallow copy of the fitted offset that keeps ``choice`` (for the probe)."""
        other = copy.copy(self)
        other.choice_ = choice
        other.oof_ = self.candidate_oof_[choice].copy()
        return other

    def _tree_predict(self, outputs):
        return self.tree_.predict(self.linear_._design(outputs))

    def predict(self, outputs):
        if self.choice_ == "linear":
            return self.linear_.predict(outputs)
        if self.choice_ == "tree":
            return self._tree_predict(outputs)
        return 0.5 * (self.linear_.predict(outputs) + self._tree_predict(outputs))

    def _tree_contributions(self, outputs):
        """GBSA's log-risk split by block: each tree's whole output goes to the block of its
        root split (exact for stumps, an approximation for deeper trees that mix blocks); the
        constant (initial prediction) goes to the first block, so the parts add up."""
        Z = self.linear_._design(outputs)
        keys = list(outputs.names) + (["clinical"] if outputs.clinical is not None else [])
        widths = [a.shape[1] for a in outputs.modalities]
        if outputs.clinical is not None:
            widths.append(Z.shape[1] - sum(widths))
        block_of = np.repeat(np.arange(len(keys)), widths)
        Z32 = np.ascontiguousarray(Z, dtype=np.float32)
        parts = np.zeros((len(keys), len(Z)))
        scale = getattr(self.tree_, "_scale", np.ones(len(self.tree_.estimators_)))
        for m, est in enumerate(self.tree_.estimators_[:, 0]):
            root = est.tree_.feature[0]
            if root < 0:
                continue
            parts[block_of[root]] += self.tree_.learning_rate * scale[m] * est.tree_.predict(Z32).ravel()
        parts[0] += self.tree_.predict(Z) - parts.sum(axis=0)
        return dict(zip(keys, parts))

    def contributions(self, outputs):
        if self.choice_ == "linear":
            return self.linear_.contributions(outputs)
        tree = self._tree_contributions(outputs)
        if self.choice_ == "tree":
            return tree
        lin = self.linear_.contributions(outputs)
        return {k: 0.5 * (lin[k] + tree[k]) for k in lin}


def _clock():
    return time.perf_counter()  # fit() shadows the module name ``time``


# ------------------------------------------------------------- recording the members
_ORIGINAL_BLEND = camlif_estimator.blend_out_of_fold
_RECORD = {}


def _recording_blend(fold, event, time_, offset_oof, member_oof, weights):
    _RECORD.update(fold=fold.copy(), event=np.asarray(event).copy(), time=np.asarray(time_).copy(),
                   member_oof=np.asarray(member_oof).copy(), weights=weights)
    return _ORIGINAL_BLEND(fold, event, time_, offset_oof, member_oof, weights)


camlif_estimator.blend_out_of_fold = _recording_blend  # the estimator calls it by this name


def _variant(est, offset, alone):
    """Shallow copy of the fitted ``est`` with ``offset``; w chosen again as the estimator
    chooses it (``alone``: w = 0, the ``residual_weights=[0]`` model)."""
    other = copy.copy(est)
    other.offset_ = offset
    if alone:
        w = 0.0
    else:
        r = _RECORD
        w, _, _ = _ORIGINAL_BLEND(r["fold"], r["event"], r["time"], offset.oof_, r["member_oof"], r["weights"])
    other.offset_weight_, other.residual_weight_ = 1.0 - w, w
    return other, w


# ------------------------------------------------------------------------- the folds
def inner_folds(ds, n_splits):
    for split in range(1, n_splits + 1):
        train = np.flatnonzero(ds.splits[split].to_numpy())
        folds = StratifiedKFold(N_FOLDS, shuffle=True, random_state=0)
        for f, (a, b) in enumerate(folds.split(np.zeros(len(train)), ds.y["event"][train])):
            yield split, f, train[a], train[b]


def _load_rows(path):
    return json.loads(path.read_text()) if path.exists() else []


def _save_rows(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(rows))
    tmp.replace(path)


def _quiet_fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        est.fit(X, y)
    return time.perf_counter() - t0


DIAG_MODELS = ("coxnet", "gbsa", "gbsa_stumps", "gbsa_stumps300", "gbsa_genes", "rsf")


def _diag_model(key, ds, seed):
    bench = _benchmark()
    if key in ("coxnet", "gbsa", "rsf"):
        return bench.build_model(key, ds, seed)
    if key == "gbsa_stumps":
        return bench.build_model("gbsa", ds, seed).set_params(gradientboostingsurvivalanalysis__max_depth=1)
    if key == "gbsa_stumps300":
        return bench.build_model("gbsa", ds, seed).set_params(
            gradientboostingsurvivalanalysis__max_depth=1, gradientboostingsurvivalanalysis__n_estimators=300)
    if key == "gbsa_genes":  # the 76 probes alone (all numeric)
        from sklearn.compose import ColumnTransformer
        from sklearn.pipeline import make_pipeline

        genes = [c for block in ds.modalities.values() for c in block]
        gbsa = bench.build_model("gbsa", ds, seed)[-1]
        return make_pipeline(ColumnTransformer([("genes", "passthrough", genes)]), gbsa)
    raise ValueError(key)


def run_diagnose(dataset, n_splits, out_dir, limit=None):
    bench = _benchmark()
    ds = bench._bench_module("datasets").load_dataset(dataset)
    path = out_dir / f"diagnose_{dataset}.json"
    rows = _load_rows(path)
    done = {(r["split"], r["fold"]) for r in rows}
    for split, f, a, b in inner_folds(ds, n_splits):
        if (split, f) in done:
            continue
        if limit is not None and len(rows) >= limit:
            break
        row = {"split": split, "fold": f}
        for key in DIAG_MODELS:
            est = _diag_model(key, ds, split)
            try:
                row[f"time_{key}"] = _quiet_fit(est, ds.X.iloc[a], ds.y[a])
                row[key] = float(est.score(ds.X.iloc[b], ds.y[b]))
            except (ArithmeticError, ValueError) as exc:  # as select_defaults: a diverging Coxnet path
                print(f"{dataset} split {split} fold {f} {key}: failed ({exc})", file=sys.stderr)
                row[f"time_{key}"], row[key] = np.nan, np.nan
        rows.append(row)
        _save_rows(path, rows)
        print(f"{dataset} split {split} fold {f}: " + " ".join(f"{k} {row[k]:.3f}" for k in DIAG_MODELS), flush=True)
    # importances: GBSA (depth 3 and stumps) on each split's whole training part
    path_imp = out_dir / f"importances_{dataset}.json"
    imp = _load_rows(path_imp) or {}
    for key in ("gbsa", "gbsa_stumps"):
        for split in range(1, n_splits + 1):
            if f"{key}:{split}" in imp:
                continue
            train = np.flatnonzero(ds.splits[split].to_numpy())
            est = _diag_model(key, ds, split)
            _quiet_fit(est, ds.X.iloc[train], ds.y[train])
            names = [str(n).split("__", 1)[-1] for n in est[0].get_feature_names_out()]
            imp[f"{key}:{split}"] = dict(zip(names, est[-1].feature_importances_.tolist()))
            _save_rows(path_imp, imp)


def run_offset(dataset, n_splits, out_dir, check, limit=None):
    bench = _benchmark()
    ds = bench._bench_module("datasets").load_dataset(dataset)
    path = out_dir / f"offset_{dataset}.json"
    rows = _load_rows(path)
    done = {(r["split"], r["fold"]) for r in rows}
    for split, f, a, b in inner_folds(ds, n_splits):
        if (split, f) in done:
            continue
        if limit is not None and len(rows) >= limit:
            break
        Xa, ya, Xb, yb = ds.X.iloc[a], ds.y[a], ds.X.iloc[b], ds.y[b]
        est = bench.build_model("camlif", ds, split).set_params(offset=TreeOrLinearOffset(mean_candidate=True))
        row = {"split": split, "fold": f, "time_fit": _quiet_fit(est, Xa, ya)}
        off = est.offset_
        row["time_linear"], row["time_tree"] = off.fit_times_["linear"], off.fit_times_["tree"]
        row["inner_scores"] = {k: v.tolist() for k, v in off.fold_scores_.items()}
        row["rule2"] = TreeOrLinearOffset.rule(off.fold_scores_, False)
        row["rule3"] = TreeOrLinearOffset.rule(off.fold_scores_, True)
        for v in VARIANTS:
            o = off.chosen(row[v] if v.startswith("rule") else v)
            full, w = _variant(est, o, alone=False)
            row[f"full_{v}"], row[f"w_{v}"] = float(full.score(Xb, yb)), float(w)
            row[f"alone_{v}"] = float(_variant(est, o, alone=True)[0].score(Xb, yb))
        row["est_score"] = float(est.score(Xb, yb))  # rule3 as fitted: must equal full_rule3
        if check and split == 1:
            for label, params in (("default", {}), ("default_alone", {"residual_weights": [0]}),
                                  ("rule2", {"offset": TreeOrLinearOffset()})):
                real = bench.build_model("camlif", ds, split).set_params(**params)
                row[f"time_real_{label}"] = _quiet_fit(real, Xa, ya)
                row[f"real_{label}"] = float(real.score(Xb, yb))
        # sanity: the tree offset's contributions add up to its prediction
        out = est._inputs(Xb)[1]
        for c in ("tree", "mean"):
            o = off.chosen(c)
            gap = np.abs(np.sum(list(o.contributions(out).values()), axis=0) - o.predict(out)).max()
            row[f"contrib_gap_{c}"] = float(gap)
        rows.append(row)
        _save_rows(path, rows)
        print(f"{dataset} split {split} fold {f} ({row['time_fit']:.1f} s; rule2 {row['rule2']}, rule3 {row['rule3']}): "
              + " ".join(f"{v} {row['full_' + v]:.3f}/{row['alone_' + v]:.3f}" for v in VARIANTS), flush=True)


# ---------------------------------------------------------------------------- report
def _pair(c, ref):
    d = np.asarray(c) - np.asarray(ref)
    return d.mean(), d.std(ddof=1) / np.sqrt(len(d))


def report_diagnose(out_dir):
    for path in sorted(out_dir.glob("diagnose_*.json")):
        all_rows = _load_rows(path)
        dataset = path.stem.split("_", 1)[1]
        rows = [r for r in all_rows if all(np.isfinite(r[k]) for k in DIAG_MODELS)]
        n_splits = len({r["split"] for r in all_rows})
        print(f"\n## Diagnosis, {dataset}: {len(rows)} of {len(all_rows)} inner folds ({n_splits} splits x "
              f"{N_FOLDS}) scored by every model (a failed Coxnet fit drops its fold)")
        print("model            mean C   vs coxnet          vs gbsa            fit s")
        for key in DIAG_MODELS:
            c = [r[key] for r in rows]
            d1, s1 = _pair(c, [r["coxnet"] for r in rows])
            d2, s2 = _pair(c, [r["gbsa"] for r in rows])
            t = np.mean([r[f"time_{key}"] for r in rows])
            print(f"{key:15s}  {np.mean(c):.4f}  {d1:+.4f} +- {s1:.4f}  {d2:+.4f} +- {s2:.4f}  {t:5.2f}")
        imp = _load_rows(out_dir / f"importances_{dataset}.json") or {}
        for key in ("gbsa", "gbsa_stumps"):
            tables = [v for k, v in imp.items() if k.startswith(key + ":")]
            if not tables:
                continue
            names = list(tables[0])
            M = np.array([[t[n] for n in names] for t in tables])
            top10 = np.argsort(-M, axis=1)[:, :10]
            in_top = np.zeros(len(names), int)
            for row in top10:
                in_top[row] += 1
            order = np.argsort(-M.mean(axis=0))
            cum = np.cumsum(np.sort(M.mean(axis=0))[::-1])
            print(f"\n{key} importances over {len(tables)} splits (whole training part): mean share, "
                  f"times in a split's top 10; {np.searchsorted(cum, 0.5) + 1} columns hold half the mean "
                  f"importance, {np.searchsorted(cum, 0.8) + 1} hold 80%")
            for j in order[:15]:
                print(f"  {names[j]:28s} {M[:, j].mean():.3f} (sd {M[:, j].std():.3f})  top10 in {in_top[j]:2d}/{len(tables)}")
            clin = [j for j, n in enumerate(names) if not n.startswith("X")]
            print(f"  non-probe columns ({', '.join(names[j] for j in clin)}): total share "
                  f"{M[:, clin].sum(axis=1).mean():.3f}")
            # agreement between splits: mean Spearman correlation of the importance vectors
            from scipy.stats import spearmanr

            rho = spearmanr(M.T).statistic
            iu = np.triu_indices(len(tables), 1)
            print(f"  mean Spearman correlation of importances between splits: {np.mean(rho[iu]):.2f}; "
                  f"mean overlap of two splits' top 10: {np.mean([len(set(top10[i]) & set(top10[j])) for i, j in zip(*iu)]):.1f}")


def _pick_argmax(fold_scores):
    """The candidate of highest mean C on the offset's own inner folds."""
    return max(("linear", "mean", "tree"), key=lambda k: np.nanmean(fold_scores[k]))


def _pick_mean_unless_linear(fold_scores):
    """The mean of the two, unless the Coxnet beats it by more than one s.e."""
    return "linear" if _beats(fold_scores["linear"], fold_scores["mean"])[2] else "mean"


def report_offset(out_dir):
    for path in sorted(out_dir.glob("offset_*.json")):
        rows = _load_rows(path)
        dataset = path.stem.split("_", 1)[1]
        n_splits = len({r["split"] for r in rows})
        print(f"\n## Offset probe, {dataset}: {len(rows)} inner folds ({n_splits} splits x {N_FOLDS})")
        print("variant   full: C    vs default         w>0     | alone: C  vs default alone")
        for v in VARIANTS:
            c = [r[f"full_{v}"] for r in rows]
            d, s = _pair(c, [r["full_linear"] for r in rows])
            ca = [r[f"alone_{v}"] for r in rows]
            da, sa = _pair(ca, [r["alone_linear"] for r in rows])
            wpos = np.mean([r[f"w_{v}"] > 0 for r in rows])
            print(f"{v:8s}  {np.mean(c):.4f}  {d:+.4f} +- {s:.4f}  {wpos:5.0%}   | {np.mean(ca):.4f}  {da:+.4f} +- {sa:.4f}")
        for rule in ("rule2", "rule3"):
            picks = [r[rule] for r in rows]
            print(f"{rule} picks: " + ", ".join(f"{k} {picks.count(k)}/{len(picks)}" for k in ("linear", "tree", "mean")))
        # other rules on the same fits (each picks one of the three candidates by the offset's own folds)
        for rule, pick in (("argmax", _pick_argmax), ("mean_unless_linear", _pick_mean_unless_linear)):
            picks = [pick({k: np.array(v) for k, v in r["inner_scores"].items()}) for r in rows]
            c = [r[f"full_{p}"] for r, p in zip(rows, picks)]
            ca = [r[f"alone_{p}"] for r, p in zip(rows, picks)]
            d, s = _pair(c, [r["full_linear"] for r in rows])
            da, sa = _pair(ca, [r["alone_linear"] for r in rows])
            print(f"{rule}: full {np.mean(c):.4f} {d:+.4f} +- {s:.4f} | alone {np.mean(ca):.4f} {da:+.4f} +- {sa:.4f}; "
                  "picks " + ", ".join(f"{k} {picks.count(k)}" for k in ("linear", "tree", "mean")))
        inner = {k: np.array([np.nanmean(r["inner_scores"][k]) for r in rows]) for k in ("linear", "tree", "mean")}
        print("offset's own inner C (its 5 folds, mean over fits): "
              + ", ".join(f"{k} {v.mean():.4f}" for k, v in inner.items()))
        t_fit = np.mean([r["time_fit"] for r in rows])
        t_lin = np.mean([r["time_linear"] for r in rows])
        t_tree = np.mean([r["time_tree"] for r in rows])
        print(f"fit time (s): full model with TreeOrLinearOffset {t_fit:.1f}, of which Coxnet offset {t_lin:.1f} "
              f"and GBSA (5 folds + refit) {t_tree:.1f}; so default full ~{t_fit - t_tree:.1f}, "
              f"default offset alone ~{t_lin:.1f}, tree-or-linear offset alone ~{t_lin + t_tree:.1f}")
        real = [r for r in rows if "real_default" in r]
        if real:
            gaps = [abs(r["real_default"] - r["full_linear"]) for r in real]
            gaps += [abs(r["real_default_alone"] - r["alone_linear"]) for r in real]
            gaps += [abs(r["real_rule2"] - r["full_rule2"]) for r in real]
            print(f"check on {len(real)} folds: largest |real - derived| C {max(gaps):.2e}; real fit times (s): "
                  f"default {np.mean([r['time_real_default'] for r in real]):.1f}, default alone "
                  f"{np.mean([r['time_real_default_alone'] for r in real]):.1f}, tree-or-linear "
                  f"{np.mean([r['time_real_rule2'] for r in real]):.1f}")
        print(f"fitted-model check: largest |est.score - full_rule3| "
              f"{max(abs(r['est_score'] - r['full_rule3']) for r in rows):.2e}; contributions add up to "
              f"{max(max(r['contrib_gap_tree'], r['contrib_gap_mean']) for r in rows):.1e}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["diagnose", "offset"])
    parser.add_argument("--datasets", nargs="+", default=["gse7390"])
    parser.add_argument("--splits", type=int, default=15)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--report", action="store_true")
    parser.add_argument("--limit", type=int, help="stop after this many inner folds per data set (smoke test)")
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits
    import torch

    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        for dataset in args.datasets if args.part else []:
            if args.part == "diagnose":
                run_diagnose(dataset, args.splits, args.out_dir, args.limit)
            else:
                run_offset(dataset, args.splits, args.out_dir, args.check, args.limit)
    if args.report or not args.part:
        report_diagnose(args.out_dir)
        report_offset(args.out_dir)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Held-out evaluation of the metric anomaly detector (docs/anomaly.md, "An evaluation that
cannot be fitted"). Stdlib only; reuses the NAB scorer's own sweep (shared/tools/nab_score.py).

The NAB scorer picks ONE threshold for the whole corpus, the one that maximises the corpus'
raw score. Tuned and scored on the same files, that is a fitted figure. Here the threshold is
chosen on some folds and applied to another:

  primary folds (8): the development subset split by category (artificial = artificialNoAnomaly
      + artificialWithAnomaly; realAWSCloudwatch), each surrogate kind of
      scripts/nab_surrogates.py (surrTaxi, surrTweets, surrTraffic, surrAdx, surrKnown; seeds 1
      and 2 pooled), and the generator's metric series (scripts/nab_guards.py from-gen). Each
      fold is scored at the threshold that maximises the summed raw score of the OTHER seven
      (the scorer's corpus optimisation, over their points), normalised over its own windows.
  shifted copies (8): the development subset with every timestamp moved by 0, 20, 75, 150,
      240, 437, 720, 4420 minutes (scripts/nab_guards.py shift), each scored as a whole at the
      threshold tuned on the non-development primary folds (surrogates + generator), so none
      of the subset's own scores choose it.

Reported per profile (standard / reward_low_FP_rate / reward_low_FN_rate): each fold, the mean
and the worst of each group and of all 16 folds. A change is adopted only if the mean over all
16 folds rises and their worst does not fall (standard profile).

  anomaly_eval.py prepare WORK BIN            data sets under WORK (BIN: shelfwatch binary,
                                              for `gen`; ~2 min)
  anomaly_eval.py run WORK BIN NAME [--set key=value]... [--arg ARG]...
                                              score-csv on every data set, tables, WORK/NAME.json;
                                              BIN may be build/bench/anomaly_bench instead (its
                                              --nab mode: the bare detector, byte-identical to
                                              score-csv; --arg --context adds the second family)
  anomaly_eval.py show WORK NAME [NAME2]...   tables of runs side by side
"""
import bisect
import importlib.util
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.normpath(os.path.join(HERE, "..", "..", "shared"))
DEV = os.path.join(SHARED, "data", "nab-dev")
SCORER = os.path.join(SHARED, "tools", "nab_score.py")
SHIFTS = [0, 20, 75, 150, 240, 437, 720, 4420]
SURR_SEEDS = [1, 2]
SURR_KINDS = ["surrTaxi", "surrTweets", "surrTraffic", "surrAdx", "surrKnown"]
GEN = ["gen", "--stores", "40", "--skus", "300", "--days", "90", "--seed", "7",
       "--metric-interval-min", "5"]
PROFILES = ["standard", "reward_low_FP_rate", "reward_low_FN_rate"]
SHORT = {"standard": "std", "reward_low_FP_rate": "lowFP", "reward_low_FN_rate": "lowFN"}


def load_scorer():
    spec = importlib.util.spec_from_file_location("nab_score", SCORER)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def datasets(work):
    """(name, NAB root) of every data set."""
    out = [("shift%d" % m, DEV if m == 0 else os.path.join(work, "data", "shift%d" % m))
           for m in SHIFTS]
    out += [("surr%d" % s, os.path.join(work, "data", "surr%d" % s)) for s in SURR_SEEDS]
    out.append(("gen7", os.path.join(work, "data", "gen7")))
    return out


def fold_of(dataset, category):
    """Primary fold of a data set's category, or None (shifted copies other than 0)."""
    if dataset.startswith("shift"):
        if dataset != "shift0":
            return None
        return "dev:artificial" if category.startswith("artificial") else "dev:" + category
    if dataset.startswith("surr"):
        return category
    return "gen"


def prepare(work, binary):
    os.makedirs(os.path.join(work, "data"), exist_ok=True)
    guards = os.path.join(HERE, "nab_guards.py")
    for m in SHIFTS[1:]:
        subprocess.check_call([sys.executable, guards, "shift", DEV,
                               os.path.join(work, "data", "shift%d" % m), str(m)])
    for s in SURR_SEEDS:
        subprocess.check_call([sys.executable, os.path.join(HERE, "nab_surrogates.py"),
                               os.path.join(work, "data", "surr%d" % s), str(s), DEV])
    events, truth = os.path.join(work, "gen7.jsonl"), os.path.join(work, "gen7-truth.jsonl")
    if not os.path.exists(truth):
        subprocess.check_call([binary] + GEN + ["--out", events, "--truth", truth])
    subprocess.check_call([sys.executable, guards, "from-gen", events, truth,
                           os.path.join(work, "data", "gen7"), os.path.join(DEV, "config")])


def score_dataset(scorer, ds, root, resdir, det):
    """Per profile, per category: sweep points of every file and the number of windows."""
    windows = json.load(open(os.path.join(root, "labels", "combined_windows.json")))
    profiles = json.load(open(os.path.join(root, "config", "profiles.json")))
    loaded = {}
    for rel, wl in sorted(windows.items()):
        cat, fn = os.path.split(rel)
        loaded[rel] = (cat, scorer.load_results(os.path.join(resdir, cat, det + "_" + fn)),
                       [(scorer.parse_ts(a), scorer.parse_ts(b)) for a, b in wl])
    out = {}
    for prof in PROFILES:
        cost = profiles[prof]["CostMatrix"]
        per_cat = {}
        for rel, (cat, (ts, sc), wl) in loaded.items():
            pts, nw = per_cat.setdefault(cat, ([], [0]))
            pts.extend(scorer.sweep_points(ts, sc, wl, ds + ":" + rel, cost))
            nw[0] += len(wl)
        out[prof] = {c: (p, n[0]) for c, (p, n) in per_cat.items()}
    return out, profiles


class Curve:
    """The scorer's raw score of a set of sweep points as a function of the threshold."""

    def __init__(self, scorer, points, cost, windows):
        res = scorer.score_by_threshold(points, cost)  # (thr, total of points >= thr), thr desc
        self.asc_thr = [t for t, _ in reversed(res)]
        self.asc_tot = [v for _, v in reversed(res)]
        self.res = res
        self.windows = windows
        self.cost = cost

    def at(self, thr):
        # Points with score >= thr: the entry with the smallest threshold >= thr.
        i = bisect.bisect_left(self.asc_thr, thr)
        return self.asc_tot[i] if i < len(self.asc_tot) else self.asc_tot[-1]

    def normalised(self, raw):
        null = -self.cost["fnWeight"] * self.windows
        perfect = self.cost["tpWeight"] * self.windows
        return 100.0 * (raw - null) / (perfect - null) if perfect > null else float("nan")


def best_threshold(curves):
    """Threshold maximising the summed raw score of `curves` (corpus-wide optimisation)."""
    events = []
    for k, c in enumerate(curves):
        prev = None
        for thr, tot in c.res:
            events.append((thr, tot - (prev if prev is not None else 0.0), prev is None))
            prev = tot
    # Start: every curve at its threshold-1.1 value (no detections).
    events.sort(key=lambda e: -e[0])
    total = 0.0
    best = (-1e300, 1.1)
    i = 0
    while i < len(events):
        thr = events[i][0]
        while i < len(events) and events[i][0] == thr:
            total += events[i][1]
            i += 1
        if total > best[0]:
            best = (total, thr)
    return best[1]


def evaluate(work, name, det="shelfwatch"):
    scorer = load_scorer()
    curves = {}  # prof -> {fold: Curve}
    shift_curves = {}  # prof -> {shift: Curve}
    insample = {}
    for ds, root in datasets(work):
        resdir = os.path.join(work, "out", name, ds)
        per_prof, profiles = score_dataset(scorer, ds, root, resdir, det)
        for prof in PROFILES:
            cost = profiles[prof]["CostMatrix"]
            whole_pts, whole_w = [], 0
            by_fold = {}
            for cat, (pts, nw) in per_prof[prof].items():
                whole_pts.extend(pts)
                whole_w += nw
                f = fold_of(ds, cat)
                if f is not None:
                    fp, fw = by_fold.setdefault(f, ([], [0]))
                    fp.extend(pts)
                    fw[0] += nw
            for f, (fp, fw) in by_fold.items():
                if f in curves.setdefault(prof, {}):  # surrogate kinds: pool the seeds
                    old = curves[prof][f]
                    fp = fp + old.points
                    fw[0] += old.windows
                c = Curve(scorer, fp, cost, fw[0])
                c.points = fp
                curves[prof][f] = c
            if ds.startswith("shift"):
                c = Curve(scorer, whole_pts, cost, whole_w)
                shift_curves.setdefault(prof, {})[ds] = c
                if ds == "shift0":
                    thr = best_threshold([c])
                    insample[prof] = (round(c.normalised(c.at(thr)), 2), thr)
    result = {"name": name, "insample_dev": insample, "folds": {}, "shifts": {}}
    for prof in PROFILES:
        folds = curves[prof]
        for f in sorted(folds):
            thr = best_threshold([c for g, c in folds.items() if g != f])
            c = folds[f]
            result["folds"].setdefault(f, {})[prof] = (round(c.normalised(c.at(thr)), 2), thr)
        thr = best_threshold([c for g, c in folds.items() if not g.startswith("dev:")])
        for s, c in shift_curves[prof].items():
            result["shifts"].setdefault(s, {})[prof] = (round(c.normalised(c.at(thr)), 2), thr)
    for group in ("folds", "shifts"):
        vals = result[group]
        result[group + "_summary"] = {
            prof: {"mean": round(sum(v[prof][0] for v in vals.values()) / len(vals), 2),
                   "worst": round(min(v[prof][0] for v in vals.values()), 2)}
            for prof in PROFILES}
    return result


def run(work, binary, name, sets, args):
    for ds, root in datasets(work):
        out = os.path.join(work, "out", name, ds)
        if os.path.basename(binary).startswith("anomaly_bench"):
            cmd = ["nice", "-n", "10", binary, "--nab", os.path.join(root, "data"), out] + args
        else:
            cmd = ["nice", "-n", "10", binary, "score-csv", "--in", os.path.join(root, "data"),
                   "--out", out, "--detector", "shelfwatch"] + args
        for s in sets:
            cmd += ["--set", s]
        subprocess.check_call(cmd, stdout=subprocess.DEVNULL)
    result = evaluate(work, name)
    result["sets"] = sets
    result["args"] = args
    with open(os.path.join(work, name + ".json"), "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
    show([result])


def cell(v):
    return "%.1f / %.1f / %.1f" % tuple(v[p][0] for p in PROFILES)


def show(results):
    names = [r["name"] for r in results]
    print("| fold (std / low-FP / low-FN; threshold tuned on the other folds) | " +
          " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for group in ("folds", "shifts"):
        for k in sorted(results[0][group], key=lambda s: (len(s), s)):
            print("| %s | %s |" % (k, " | ".join(cell(r[group][k]) for r in results)))
        for agg in ("mean", "worst"):
            print("| **%s %s** | %s |" % (group, agg, " | ".join(
                "%.1f / %.1f / %.1f" % tuple(r[group + "_summary"][p][agg] for p in PROFILES)
                for r in results)))
    for agg, fn in (("mean", lambda v: sum(v) / len(v)), ("worst", min)):
        print("| **all 16 folds %s** | %s |" % (agg, " | ".join(
            "%.2f / %.2f / %.2f" % tuple(
                fn([v[p][0] for g in ("folds", "shifts") for v in r[g].values()])
                for p in PROFILES) for r in results)))
    print("| dev subset, scorer's own threshold (fitted) | %s |" % " | ".join(
        "%.1f / %.1f / %.1f (thr %.3f)" % (tuple(r["insample_dev"][p][0] for p in PROFILES) +
                                          (r["insample_dev"]["standard"][1],))
        for r in results))
    print("| threshold applied to each fold, std (min-max) | %s |" % " | ".join(
        "%.3f-%.3f" % (min(v["standard"][1] for v in r["folds"].values()),
                       max(v["standard"][1] for v in r["folds"].values())) for r in results))


def main(argv):
    if len(argv) == 4 and argv[1] == "prepare":
        prepare(argv[2], argv[3])
    elif len(argv) >= 5 and argv[1] == "run":
        sets, args = [], []
        rest = argv[5:]
        while rest:
            if rest[0] not in ("--set", "--arg") or len(rest) < 2:
                sys.stderr.write(__doc__)
                return 2
            (sets if rest[0] == "--set" else args).append(rest[1])
            rest = rest[2:]
        run(argv[2], argv[3], argv[4], sets, args)
    elif len(argv) >= 4 and argv[1] == "show":
        show([json.load(open(os.path.join(argv[2], n + ".json"))) for n in argv[3:]])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""refgc's search against AGOX's: the table of docs/search.md, from the recorded rows.

    python benchmarks/compare_search.py [--refgc benchmarks/results/search.jsonl] \\
        [--agox benchmarks/results/agox.jsonl] [--variant default]

For each problem (cell, Δμ_O) that both files have: the best ΔG AGOX found over its seeds
(``bench_agox.py``, a budget of calls each) and, for each refgc seed (``bench_search.py``,
the newest row per seed), refgc's best, its calls in all and the calls its restarts made up
to the one that found it. The goal: in every refgc seed, a best within 0.02 eV of AGOX's
best or below it, with at most one fifth of AGOX's budget of calls.
"""

import argparse
import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
TOLERANCE = 0.02  # eV per cell
SHARE = 5  # refgc may use at most 1/SHARE of AGOX's calls


def rows(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def text(added):
    return " ".join(f"{s}{n}" for s, n in sorted(added.items()) if n) or "bare"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--refgc", default=RESULTS / "search.jsonl")
    p.add_argument("--agox", default=RESULTS / "agox.jsonl")
    p.add_argument("--variant", default="default")
    args = p.parse_args()
    agox, refgc = {}, {}
    for r in rows(args.agox):
        agox.setdefault((r["cell"], r["dmu_O"]), {})[r["seed"]] = r  # the newest row per seed
    for r in rows(args.refgc):
        if r["variant"] == args.variant:
            refgc.setdefault((r["cell"], r["dmu_O"]), {})[r["seed"]] = r
    print("| cell | Δμ_O | AGOX best (seed: ΔG, composition, call first reached) | refgc best per seed (ΔG, composition) "
          "| refgc calls (in all; to its best) | goal |")
    print("|---|---:|---|---|---|---|")
    met_all = True
    for key in sorted(set(agox) & set(refgc), key=lambda k: (k[0] != "c6x2", k)):
        a, r = agox[key], refgc[key]
        best = min(a.values(), key=lambda x: x["best_dG"])
        budget = min(x["budget"] for x in a.values())
        within = all(x["best_dG"] <= best["best_dG"] + TOLERANCE for x in r.values())
        cheap = all(x["total_calls"] <= budget / SHARE for x in r.values())
        met_all &= within and cheap
        agox_text = "; ".join(f"{s}: {x['best_dG']:+.3f} {text(x['added'])} ({x['first_call']:,})"
                              for s, x in sorted(a.items()))
        refgc_text = "; ".join(f"{x['best_dG']:+.3f} {text(x['added'])}" for _, x in sorted(r.items()))
        calls_text = "; ".join(f"{x['total_calls']:,}; {x.get('calls_to_best', 0):,}" for _, x in sorted(r.items()))
        verdict = ("met" if within and cheap else
                   "not met: " + ", ".join(w for w, ok in (("ΔG", within), (f"calls > {budget // SHARE:,}", cheap)) if not ok))
        print(f"| {key[0]} | {key[1]:+.1f} | {agox_text} | {refgc_text} | {calls_text} | {verdict} |")
    print(f"\nrefgc seeds: {sorted({s for v in refgc.values() for s in v})}; goal met everywhere: {met_all}")


if __name__ == "__main__":
    main()

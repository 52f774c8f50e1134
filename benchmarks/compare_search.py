"""refgc's search against AGOX's: the table of docs/searching.md, from the recorded rows.

    python benchmarks/compare_search.py [--refgc benchmarks/results/search.jsonl] \\
        [--agox benchmarks/results/agox.jsonl] [--variant default]
    python benchmarks/compare_search.py --variants published polish default mixtures

For each problem (cell, Δμ_O) that both files have: the best ΔG AGOX found over its seeds
(``bench_agox.py``, a budget of calls each, and the call at which it first reached it) and,
for each refgc seed (``bench_search.py``, the newest row per seed), refgc's best, the calls
of all its restarts, and the calls its restarts, taken in order, made until one ended
within 0.02 eV of AGOX's best (0 if the template, ΔG = 0, already is). The goal: in every
refgc seed, a best within 0.02 eV of AGOX's best or below it, reached with at most one
fifth of AGOX's budget of calls.

With ``--variants``: refgc's variants side by side instead, best ΔG per seed and the calls
of all restarts, one row per problem.

Only rows made with ``--model`` (default: the shipped default model; rows record their model's
parameter digest) are read, so the tables are always of one model.
"""

import argparse
import json
from pathlib import Path

from bench_agox import model_tag
from refgc.modelfile import load_model

RESULTS = Path(__file__).resolve().parent / "results"
TOLERANCE = 0.02  # eV per cell
SHARE = 5  # refgc may use at most 1/SHARE of AGOX's calls


def rows(path, model):
    """The rows of ``path`` made with the model tagged ``model`` (``bench_agox.model_tag``)."""
    every = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    return [r for r in every if r.get("model") == model]


def calls_to(row, target):
    """The calls of ``row``'s restarts, in order, until one ended at ΔG <= ``target`` (0 if
    the template's ΔG = 0 is; None if none did)."""
    if target >= 0.0:
        return 0
    total = 0
    for gibbs, _, calls in row["runs"]:
        total += calls
        if gibbs <= target:
            return total
    return None


def text(added):
    return " ".join(f"{s}{n}" for s, n in sorted(added.items()) if n) or "bare"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--refgc", default=RESULTS / "search.jsonl")
    p.add_argument("--agox", default=RESULTS / "agox.jsonl")
    p.add_argument("--variant", default="default")
    p.add_argument("--restarts", type=int, default=8, help="refgc's rows with this many restarts")
    p.add_argument("--variants", nargs="+", help="print these refgc variants side by side instead")
    p.add_argument("--model", default=None, help="the model whose rows are read (default: the shipped default)")
    args = p.parse_args()
    model = model_tag(load_model(args.model))
    if args.variants:
        return side_by_side([r for r in rows(args.refgc, model) if r["restarts"] == args.restarts], args.variants)
    agox, refgc = {}, {}
    for r in rows(args.agox, model):
        agox.setdefault((r["cell"], r["dmu_O"]), {})[r["seed"]] = r  # the newest row per seed
    for r in rows(args.refgc, model):
        if r["variant"] == args.variant and r["restarts"] == args.restarts:
            refgc.setdefault((r["cell"], r["dmu_O"]), {})[r["seed"]] = r
    print("| cell | Δμ_O | AGOX best (seed: ΔG, composition, call first reached) | refgc best per seed (ΔG, composition) "
          "| refgc calls per seed: in all (to within 0.02 eV of AGOX's best) | goal |")
    print("|---|---:|---|---|---|---|")
    met_all = True
    for key in sorted(set(agox) & set(refgc), key=lambda k: (k[0] != "c6x2", k)):
        a, r = agox[key], refgc[key]
        best = min(a.values(), key=lambda x: x["best_dG"])
        budget = min(x["budget"] for x in a.values())
        target = best["best_dG"] + TOLERANCE
        reached = {s: calls_to(x, target) for s, x in r.items()}
        within = all(c is not None for c in reached.values())
        cheap = within and all(c <= budget / SHARE for c in reached.values())
        met_all &= within and cheap
        agox_text = "; ".join(f"{s}: {x['best_dG']:+.3f} {text(x['added'])} ({x['first_call']:,})"
                              for s, x in sorted(a.items()))
        refgc_text = "; ".join(f"{x['best_dG']:+.3f} {text(x['added'])}" for _, x in sorted(r.items()))
        calls_text = "; ".join(f"{x['total_calls']:,} ({'–' if reached[s] is None else f'{reached[s]:,}'})"
                               for s, x in sorted(r.items()))
        verdict = "met" if cheap else "not met: ΔG" if not within else f"not met: more than {budget // SHARE:,} calls"
        print(f"| {key[0]} | {key[1]:+.1f} | {agox_text} | {refgc_text} | {calls_text} | {verdict} |")
    print(f"\nrefgc seeds: {sorted({s for v in refgc.values() for s in v})}; goal met everywhere: {met_all}")


def side_by_side(records, variants):
    table = {}
    for r in records:
        table.setdefault((r["cell"], r["dmu_O"]), {}).setdefault(r["variant"], {})[r["seed"]] = r
    print("| cell | Δμ_O | " + " | ".join(variants) + " |")
    print("|---|---:|" + "---|" * len(variants))
    for (cell, dmu), by_variant in sorted(table.items(), key=lambda kv: (kv[0][0] != "c6x2", kv[0])):
        cells = []
        for v in variants:
            seeds = by_variant.get(v, {})
            best = " / ".join(f"{seeds[s]['best_dG'] + 0.0:+.3f}" for s in sorted(seeds))
            calls = " / ".join(f"{seeds[s]['total_calls']:,}" for s in sorted(seeds))
            cells.append(f"{best} ({calls})" if seeds else "")
        print(f"| {cell} | {dmu:+.1f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

"""The main job checked with the labeller: the model card's numbers and the trust bars.

    python benchmarks/validate_main_job.py --out DIR [--model MODEL.npz] [--seeds 0 1]
        [--dmu -2 -1.5 -1 -0.5 0] [--top 3] [--fmax 0.01] [--labeller sevenn:7net-0]
        [--slab SLAB.extxyz] [--removable top] [--candidates O=8] [--restarts 8] [--hops 3] [--markdown]

For each seed and Δμ_O: ``refgc optimize --mu O=DMU --mu Cu=0 --seed SEED`` on the c(6×2)
template, or ``--slab`` with ``--removable`` atoms, ``--candidates``, ``--restarts`` and
``--hops`` (by default refgc optimize's: 8 restarts, 3 hops) into
DIR/seed-SEED/O=DMU, then ``refgc validate`` of
its ``--top`` best distinct structures with the labeller (relaxed to ``--fmax``). Prints
one row per seed and Δμ_O, the model's error at its own geometry over all checked
structures, and the bars the default model is held to:

- median |model − labeller| ≤ 15 meV/atom over the top 3 of every run, none above 30;
- the same winner as the labeller after relaxation, at every seed and Δμ_O;
- no result with a hole: no restart the contact check flags (a detached fragment, a
  too-short pair) on which the model is more than 30 meV/atom off the labeller at its own
  geometry. A flagged restart within that (an O₂ molecule left in the cell at Δμ_O = 0,
  where it costs nothing) is reported, not counted as a hole.

Everything resumes (the optimizations from their restarts, the validations from
``validation.json``); DIR/summary.json keeps the rows. SevenNet-0 needs ``refgc[label]``.
"""

import argparse
import json
from pathlib import Path

import numpy as np

from refgc.cli import main as refgc
from refgc.validate import validate


def check(folder, model, seed, dmu, top, fmax, labeller, slab=None, options=()):
    """``options``: more ``refgc optimize`` arguments, the same for every search."""
    args = ["optimize", *([slab] if slab else []), "--mu", f"O={dmu}", "--mu", "Cu=0", "--seed", str(seed), "--quiet",
            "--out", str(folder), *options]
    if refgc(args + (["--model", str(model)] if model else [])):
        raise SystemExit(f"refgc {' '.join(args)} failed")
    v = validate(folder, labeller, top=top, fmax=fmax, flagged=True, progress=False)
    model_best, labeller_best = v.winners()
    return dict(seed=seed, dmu=dmu,
                rows=[dict(composition=r["composition"], removed=r.get("removed", {}), model=r["model"], labeller_at_model=r["labeller_at_model"],
                           labeller_relaxed=r["labeller_relaxed"], error_meV_per_atom=1e3 * r["error_per_atom"],
                           labeller_rank=r["labeller_rank"]) for r in v.checked],
                template_rank=next(r["labeller_rank"] for r in v.rows if r["key"] == "template"),
                same_winner=model_best is labeller_best,
                flagged=[dict(restart=r["restart"], flags=r["flags"], error_meV_per_atom=1e3 * r.get("error_per_atom", np.nan))
                         for r in v.flagged])


def is_hole(flagged):
    """A flagged restart the model is more than 30 meV/atom off on (or the labeller failed on)."""
    return not abs(flagged["error_meV_per_atom"]) <= 30


def describe_flagged(flagged):
    return (f"restart {flagged['restart']}: {'; '.join(flagged['flags'])}, {flagged['error_meV_per_atom']:+.1f} meV/atom"
            + (" (a hole)" if is_hole(flagged) else ""))


def added(row):
    """'Cu2 O4', or '−Cu2 O4' where template atoms were removed, or 'bare'."""
    removed = " ".join(f"−{s}{n}" for s, n in row.get("removed", {}).items() if n)
    return " ".join(filter(None, [removed, *(f"{s}{n}" for s, n in row["composition"].items() if n)])) or "bare"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--model", help="model file (default: the shipped model)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--dmu", type=float, nargs="+", default=[-2.0, -1.5, -1.0, -0.5, 0.0])
    ap.add_argument("--top", type=int, default=3)
    ap.add_argument("--fmax", type=float, default=0.01)
    ap.add_argument("--labeller", default="sevenn:7net-0")
    ap.add_argument("--slab", help="template slab file (default: the Cu(110) c(6×2) template)")
    ap.add_argument("--removable", nargs="+", help="template atoms that may be removed: 'top' or indices")
    ap.add_argument("--candidates", nargs="+", help="candidate atoms per element, as refgc optimize takes them")
    ap.add_argument("--restarts", type=int, help="restarts per search (default: refgc optimize's)")
    ap.add_argument("--hops", type=int, help="hops per restart (default: refgc optimize's)")
    ap.add_argument("--markdown", action="store_true", help="also print the rows as a Markdown table (as in the docs)")
    args = ap.parse_args()
    options = [*(["--removable", *args.removable] if args.removable else []),
               *(["--candidates", *args.candidates] if args.candidates else []),
               *(f"--{k}={v}" for k, v in (("restarts", args.restarts), ("hops", args.hops)) if v is not None)]
    results = []
    for seed in args.seeds:
        for dmu in args.dmu:
            results.append(check(args.out / f"seed-{seed}" / f"O={dmu:g}", args.model, seed, dmu, args.top, args.fmax,
                                 args.labeller, args.slab, options))
            r = results[-1]
            print(f"seed {seed} Δμ_O {dmu:+.1f}: " + ", ".join(
                f"{added(row)} {row['model']:+.3f} (labeller {row['labeller_at_model']:+.3f}, relaxed "
                f"{row['labeller_relaxed']:+.3f}, {row['error_meV_per_atom']:+.1f} meV/atom, rank "
                f"{row['labeller_rank']})" for row in r["rows"])
                + f"; template rank {r['template_rank']}; winner {'same' if r['same_winner'] else 'CHANGES'}"
                + (f"; flagged: {', '.join(map(describe_flagged, r['flagged']))}" if r["flagged"] else ""), flush=True)
    errors = np.abs([row["error_meV_per_atom"] for r in results for row in r["rows"]])
    verdict = dict(median=float(np.median(errors)), largest=float(errors.max()), n=len(errors),
                   above_30=int((errors > 30).sum()), winners_same=sum(r["same_winner"] for r in results),
                   runs=len(results), flagged=sum(len(r["flagged"]) for r in results),
                   holes=sum(is_hole(f) for r in results for f in r["flagged"]))
    verdict["bars_met"] = bool(verdict["median"] <= 15 and verdict["largest"] <= 30
                               and verdict["winners_same"] == verdict["runs"] and verdict["holes"] == 0)
    (args.out / "summary.json").write_text(json.dumps(dict(model=args.model or "default", labeller=args.labeller,
                                                           slab=args.slab, removable=args.removable, candidates=args.candidates,
                                                           restarts=args.restarts, hops=args.hops,
                                                           verdict=verdict, results=results), indent=1))
    print(f"\n|model − labeller| at the model's geometry: median {verdict['median']:.1f} meV/atom, largest "
          f"{verdict['largest']:.1f}, {verdict['above_30']} of {verdict['n']} above 30; the same winner in "
          f"{verdict['winners_same']} of {verdict['runs']} runs; {verdict['flagged']} flagged restarts, "
          f"{verdict['holes']} of them holes; "
          f"bars {'met' if verdict['bars_met'] else 'NOT met'}")
    if args.markdown:
        print(markdown(results))


def markdown(results):
    """One row per seed and Δμ_O: the model's top structures and what the labeller says of them."""
    lines = ["| seed | Δμ_O | model's top 3 (model ΔG) | labeller at the model's geometry | labeller relaxed "
             "| error (meV/atom) | labeller's ranking | same winner |", "|---:|---:|---|---|---|---|---|---|"]
    for r in results:
        rows = r["rows"]
        lines.append(f"| {r['seed']} | {r['dmu']:+.1f} | " + ", ".join(f"{added(x)} ({x['model']:+.3f})" for x in rows)
                     + " | " + ", ".join(f"{x['labeller_at_model']:+.3f}" for x in rows)
                     + " | " + ", ".join(f"{x['labeller_relaxed']:+.3f}" for x in rows)
                     + " | " + ", ".join(f"{x['error_meV_per_atom']:+.1f}" for x in rows)
                     + " | " + ", ".join(str(x["labeller_rank"]) for x in rows)
                     + f" (template {r['template_rank']}) | {'yes' if r['same_winner'] else 'no'} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()

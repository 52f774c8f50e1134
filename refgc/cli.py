"""The ``refgc`` command line.

    refgc optimize [SLAB_FILE] --mu O=-1.0 [--restarts N] [--seed S] [--out DIR] [options]
    refgc train DATA.extxyz [MORE.extxyz ...] --out MODEL.npz [options]
    refgc data SLAB --species Cu O --labeller SPEC --out DATA.extxyz [options]
    refgc learn MODEL SLAB --labeller SPEC --rounds N --mu O=-1.5,-0.5 --out DIR [options]
    refgc validate RESULTS --labeller SPEC [--top N] [--fmax F] [--steps S] [--flagged]
    refgc build RECIPE.toml [--print]
    refgc reference --out DIR
    refgc compare THEIRS.json [--reference DIR] [--rtol R] [--atol A]

Appending newly labelled frames and retraining is the same command with one more file
(with a new --checkpoint file: a checkpoint refuses other data), or --init MODEL.npz to
fine-tune the previous model on the larger set.
"""

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

from . import __version__
from .arrays import BACKENDS, BackendUnavailable
from .parallel import SerialExecutor
from .results import describe
from .modelfile import shipped_models
from .training import ARCHITECTURE, PRIOR, TrainSettings, train_from_files


def _train(args):
    settings = TrainSettings(**{f.name: getattr(args, f.name) for f in fields(TrainSettings) if getattr(args, f.name, None) is not None})
    model = train_from_files(
        args.data, args.out, validation=args.validation, validation_from=args.validation_from, test=args.test,
        references=args.references, checkpoint=args.checkpoint, init=args.init, species=args.species,
        architecture={k: getattr(args, k) for k in ARCHITECTURE}, prior={k: getattr(args, k) for k in PRIOR},
        max_force=args.max_force, settings=settings,
    )
    for name, val in (("validation", model.provenance["training"]["validation"]), ("test", model.provenance.get("test"))):
        if val:
            print(f"{name}: energy MAE {1e3 * val['energy_mae_per_atom']:.2f} meV/atom, "
                  f"force MAE {val['force_mae']:.3f} eV/Å ({val['n_frames']} frames)")
    print(f"wrote {args.out}")


def _assignments(items, what, convert=float):
    """["O=-1.0", "Cu=0"] -> {"O": -1.0, "Cu": 0.0}."""
    out = {}
    for item in items or []:
        symbol, sep, value = item.partition("=")
        try:
            out[symbol.strip()] = convert(value)
        except ValueError:
            sep = ""
        if not sep or not symbol.strip():
            raise ValueError(f"{what} must look like SYMBOL=VALUE (e.g. O=-1.0), got {item!r}")
    return out


def _optimize(args):
    from .grandcanonical import optimize
    from .modelfile import load_model
    from .surface import cu110_c6x2_template

    mu = _assignments(args.mu, "--mu")
    conditions = _gas_conditions(args, mu)
    slab = _read_slab(args.slab) if args.slab else cu110_c6x2_template()
    model = load_model(args.model)
    result = optimize(slab, mu, model=model, output=args.out, **_search_options(args))
    bulk = bulk_notes(model, mu)
    extra = {k: v for k, v in (("conditions", conditions), ("bulk", bulk)) if v}
    if extra and args.out and not str(args.out).endswith(".db"):
        summary_path = Path(args.out) / "summary.json"
        summary_path.write_text(json.dumps({**json.loads(summary_path.read_text()), **extra}, indent=1))
    print_ranking(result, mu, conditions)
    if bulk:
        print(f"\nnote: at these Δμ the bulk {' and '.join(n['compound'] for n in bulk)} "
              f"{'is' if len(bulk) == 1 else 'are'} more stable than the reservoirs ({bulk[0]['labeller']}: "
              + ", ".join(f"{n['compound']} by {n['margin_eV']:.3f} eV per formula unit" for n in bulk)
              + "); every structure above is metastable against bulk formation")
    found = ", ".join(f"{describe(c['added'], c.get('removed'))} ×{c['restarts']}" for c in result.compositions())
    print(f"\ncompositions the restarts ended with, best first: {found}")
    print(f"wrote {args.out}/ (best.extxyz, summary.json, every restart and its trajectory)")


def _search_options(args):
    """refgc.optimize's keyword arguments from the options _add_search_options defines."""
    options = {k: v for k, v in (("existence", args.existence), ("existence_scale", args.existence_scale)) if v is not None}
    options.update(candidates=_assignments(args.candidates, "--candidates", int) or None, restarts=args.restarts,
                   seed=args.seed, mixtures=args.mixtures, polish=not args.no_polish,
                   executor=SerialExecutor() if args.serial else None, progress=not args.quiet,
                   backend=args.backend, lockstep=args.lockstep)
    if args.hops is not None:
        options.update(hops=args.hops)
    if args.removable:
        options.update(removable=_removable(args.removable))
    return options


def _diagram(args):
    from .modelfile import load_model
    from .phasediagram import phase_diagram
    from .surface import cu110_c6x2_template

    mu = _assignments(args.mu, "--mu")
    if args.vary in mu:
        raise ValueError(f"--vary {args.vary} and --mu {args.vary}=...: the varied element's Δμ comes from --dmu")
    slab = _read_slab(args.slab) if args.slab else cu110_c6x2_template()
    model = load_model(args.model)
    diagram = phase_diagram(slab, args.dmu, species=args.vary, mu=mu, model=model, output=args.out,
                            **_search_options(args))
    out = Path(args.out)
    rows = [{"from": lo, "to": hi, "structure": diagram.label(run), "generated_at": gen,
             "gibbs_meV_per_A2_at_from": 1e3 * float(diagram.gibbs_at(run, gen, lo)) / diagram.area,
             "flags": diagram.results[diagram.dmu_values.index(gen)].flags(run)}
            for lo, hi, (gen, run) in diagram.envelope()]
    x_star, compound = diagram.bulk_limit()
    document = {"vary": args.vary, "dmu": diagram.dmu_values, "mu": mu, "area": diagram.area, "stable": rows,
                "bulk_limit": None if compound is None else {"dmu": x_star, "compound": compound}}
    (out / "diagram.json").write_text(json.dumps(document, indent=1))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    diagram.plot(ax)
    fig.savefig(out / "diagram.png", dpi=150, bbox_inches="tight")
    print(f"\nthe stable structure against Δμ_{args.vary} (every structure found at every Δμ, ranked at every other):")
    print(f"{'Δμ from':>8} {'to':>7}  {'structure':<16} {'found at':>8}  flags")
    for r in rows:
        print(f"{r['from']:8.3f} {r['to']:7.3f}  {r['structure']:<16} {r['generated_at']:8.3f}  {'; '.join(r['flags'])}"
              .rstrip())
    if compound is not None and x_star < max(diagram.dmu_values):
        print(f"above Δμ_{args.vary} = {x_star:.3f} eV bulk {compound} is more stable than any surface phase")
    print(f"wrote {out}/ (diagram.png, diagram.json, one refgc optimize folder per Δμ)")


def _add_search_options(parser, out, where="folder (or .db file) for the results; rerun to resume"):
    """The options of refgc.optimize that refgc optimize and refgc diagram share."""
    parser.add_argument("--candidates", nargs="+", metavar="X=N", help="candidate atoms per element (default: from the area)")
    parser.add_argument("--restarts", type=int, default=8)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--out", default=out, help=where)
    parser.add_argument("--model", help=f"model file, or a shipped model's name: {', '.join(shipped_models())} "
                                        "(default: default)")
    parser.add_argument("--existence", type=float, nargs=2, metavar=("LOW", "HIGH"),
                        help="initial existences of the candidates ~ U(LOW, HIGH) (default: refgc.optimize's, 0.5 1)")
    parser.add_argument("--existence-scale", type=float, metavar="K",
                        help="L-BFGS-B works on K·q (default: refgc.optimize's)")
    parser.add_argument("--mixtures", action="store_true",
                        help="restarts after the first insert their own share of each species' candidates")
    parser.add_argument("--no-polish", action="store_true",
                        help="do not remove added atoms whose removal lowers ΔG after each relaxation")
    parser.add_argument("--hops", type=int, metavar="N",
                        help="basin-hopping steps of each restart after the polish (default: refgc.optimize's, 3; "
                             "--hops 0 --no-polish is the method as published)")
    parser.add_argument("--removable", nargs="+", metavar="I",
                        help="template atoms that may be removed: 'top' (the top layer) or their indices")
    parser.add_argument("--serial", action="store_true", help="run the restarts in this process")
    parser.add_argument("--backend", choices=BACKENDS, default="numpy",
                        help="where the model runs: numpy (default) or cupy (a GPU; needs refgc[gpu])")
    parser.add_argument("--lockstep", nargs="?", const=True, default=False, choices=[True, "batched"],
                        help="the restarts share the model in threads of this process, one call per step "
                             "(one batched call on a GPU, or with --lockstep batched)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")


def _removable(values):
    """--removable: ['top'] or indices, as refgc.optimize takes them."""
    if values == ["top"]:
        return "top"
    try:
        return [int(v) for v in values]
    except ValueError:
        raise ValueError(f"--removable takes 'top' or atom indices, got {' '.join(values)}") from None


def bulk_notes(model, mu):
    """The bulk compounds of the model's labeller that are stable at ``mu``: those with
    ΔH_f ≤ Σ_X n_X Δμ_X (:mod:`refgc.bulk`), each with its margin in eV per formula unit."""
    notes = []
    for name, phase in model.bulk_phases.items():
        margin = sum(n * mu.get(s, 0.0) for s, n in phase["formula"].items()) - phase["formation_energy"]
        if margin >= 0:
            notes.append({"compound": name, "formation_energy_eV": phase["formation_energy"], "margin_eV": margin,
                          "labeller": phase.get("labeller") or "the model's labeller"})
    return notes


def _gas_conditions(args, mu):
    """--T and --p as Δμ of the gas-phase elements (added to ``mu``); returns the
    conditions for summary.json, or None without --p."""
    from . import gas

    if args.p is None:
        if args.T is not None:
            raise ValueError("--T needs --p, e.g. --T 600 --p O2=1e-9 (bar)")
        if not mu:
            raise ValueError("give --mu X=DMU, or --T and --p X2=BAR")
        return None
    if args.T is None:
        raise ValueError("--p needs --T, the temperature in K")
    by_formula = {formula: element for element, (formula, _) in gas.MOLECULES.items()}
    pressures = _assignments(args.p, "--p")
    for formula, p in pressures.items():
        element = by_formula.get(formula)
        if element is None:
            raise ValueError(f"--p {formula}: not a gas refgc knows (known: {', '.join(gas.gases())})")
        if element in mu:
            raise ValueError(f"give Δμ_{element} by --mu or by --p {formula}, not both")
        mu[element] = gas.delta_mu(element, args.T, p)
    return {"T_K": args.T, "p_bar": pressures, "dmu_eV": {by_formula[f]: mu[by_formula[f]] for f in pressures}}


def print_ranking(result, mu, conditions=None):
    """The table of ``refgc optimize``: the distinct answers, best first, with how many
    restarts found each and the contact check's flags; a warning when the best is flagged."""
    counts = {}
    for run in result.runs:
        key = next(r for r in result.distinct() if r.change == run.change and abs(r.gibbs - run.gibbs) < 1e-3)
        counts[key.restart] = counts.get(key.restart, 0) + 1
    gas = (f" (T = {conditions['T_K']:g} K, " + ", ".join(f"p({f}) = {p:.3g} bar" for f, p in conditions["p_bar"].items())
           + ")") if conditions else ""
    print(f"\nΔμ: {', '.join(f'{s} {v:+.3f} eV' for s, v in mu.items())}{gas}; surface {result.area:.2f} Å²; "
          f"{len(result.runs)} restarts")
    print(f"{'rank':>4}  {'ΔG (eV)':>9}  {'ΔG (meV/Å²)':>11}  {'added':<14} {'found by':>8}  flags")
    ranking = result.distinct()
    for rank, run in enumerate(ranking, 1):
        added = run.describe()
        found_by = "template" if run.restart < 0 else counts[run.restart]
        flags = "; ".join(result.flags(run))
        print(f"{rank:4d}  {run.gibbs:9.3f}  {1e3 * run.gibbs / result.area:11.2f}  {added:<14} {found_by:>8}  {flags}"
              .rstrip())
    if result.flags(ranking[0]):
        clean = next((k for k, r in enumerate(ranking, 1) if not result.flags(r)), None)
        print(f"\nwarning: the best answer fails the contact check ({'; '.join(result.flags(ranking[0]))}): "
              f"the model is likely wrong there; the best answer that passes is rank {clean}")


def _read_slab(path):
    """The slab in ``path`` (any file ASE reads), or one line that names the file."""
    from ase.io import read

    try:
        return read(path)
    except FileNotFoundError:
        raise
    except Exception as err:  # ASE's readers raise many types (XYZError, StopIteration, ...): name the file
        raise ValueError(f"could not read the slab from {path} ({type(err).__name__}: {err})") from None


def references_path(data):
    """Where ``refgc data`` writes the labeller's references for the data file ``data``:
    data.extxyz -> data.references.json."""
    path = Path(data)
    return path.with_name(path.name.split(".")[0] + ".references.json")


def _data(args):
    from ase import Atoms

    from . import datagen
    from .grandcanonical import default_candidates
    from .bulk import formation_energies
    from .labeller import labeller, references
    from .system import check_atoms, check_count

    lab = labeller(args.labeller)  # a bad spec fails here, before anything is read or computed
    slab = _read_slab(args.slab)
    check_atoms(slab, "slab")
    for name in ("n_insertion", "n_relax", "n_template", "n_gas", "n_bulk", "relax_steps"):
        check_count(getattr(args, name), "--" + name.replace("_", "-"))
    calc = lab()
    species = sorted(set(args.species) | set(slab.get_chemical_symbols()))
    for symbol in species:  # what the labeller does not know
        try:
            atom = Atoms(symbol, cell=[10.0] * 3)
            atom.calc = calc
            atom.get_potential_energy()
        except Exception as err:
            raise ValueError(f"labeller {args.labeller!r} cannot compute {symbol} ({type(err).__name__}: {err})") from None
    refs_path = Path(args.references or references_path(args.out))
    recorded = json.loads(refs_path.read_text()) if refs_path.exists() else {}
    if (recorded.get("labeller") != args.labeller or sorted(recorded.get("mu_ref", {})) != species
            or "bulk_phases" not in recorded):
        mu_ref = references(calc, species)
        refs = {"labeller": args.labeller, "mu_ref": mu_ref, "units": "eV",
                "bulk_phases": formation_energies(calc, mu_ref, labeller=args.labeller)}
        refs_path.write_text(json.dumps(refs, indent=1) + "\n")
        print(f"{refs_path}: the labeller's references μ_ref "
              + ", ".join(f"{s} {v:.4f} eV" for s, v in refs["mu_ref"].items())
              + "".join(f"; {name} ΔH_f {p['formation_energy']:+.3f} eV" for name, p in refs["bulk_phases"].items())
              + " (for refgc train --references)")
    max_added = default_candidates(slab, args.species)  # one per 7 Å² of surface and species
    given = _assignments(args.max_added, "--max-added", int)
    unknown = sorted(set(given) - set(args.species))
    if unknown:
        raise ValueError(f"--max-added names {', '.join(unknown)}, which is not in --species")
    max_added.update({s: check_count(n, f"--max-added {s}") for s, n in given.items()})
    from .grandcanonical import removable_indices

    removable = removable_indices(_removable(args.removable), slab) if args.removable else ()
    plan = datagen.make_plan(slab, seed=args.seed, n_insertion=args.n_insertion, n_relax=args.n_relax,
                             n_template=args.n_template, n_gas=args.n_gas, n_bulk=args.n_bulk,
                             max_added=max_added, relax_steps=args.relax_steps, removable=removable)
    stats = datagen.run_plan(plan, lab, args.out, workers=args.workers, progress=not args.quiet)
    print(f"{args.out}: {stats['frames']} new frames from {stats['tasks']} tasks ({stats['frames_before']} before), "
          f"{stats['calls']} labeller calls; added atoms up to {', '.join(f'{n} {s}' for s, n in max_added.items())}")
    if stats["failed"]:
        print(f"the labeller failed on {len(stats['failed'])} task(s), skipped (a rerun tries them again): "
              + ", ".join(stats["failed"]))


def _learn(args):
    from .learn import learn

    lab_mu = {}
    for item in args.mu:
        symbol, sep, values = item.partition("=")
        try:
            lab_mu[symbol.strip()] = [float(v) for v in values.split(",")]
        except ValueError:
            sep = ""
        if not sep or not symbol.strip():
            raise ValueError(f"--mu must look like SYMBOL=V1,V2,... (e.g. O=-1.5,-0.5), got {item!r}")
    slab = _read_slab(args.slab)
    final = learn(args.model, slab, args.labeller, rounds=args.rounds, mu=lab_mu, out=args.out, data=args.data,
                  test=args.test,
                  restarts=args.restarts, test_restarts=args.test_restarts, snapshots=args.snapshots, paths=args.paths,
                  weight=args.weight, epochs=args.epochs, learning_rate=args.learning_rate, workers=args.workers,
                  seed=args.seed, removable=_removable(args.removable) if args.removable else None,
                  executor=SerialExecutor() if args.serial else None, progress=not args.quiet)
    print(f"wrote {final} (the model kept last; each round's numbers in {args.out}/learn.json)")


def _build(args):
    import shlex

    from .recipe import build, command_lines

    if args.print:
        for argv in command_lines(args.recipe):
            print("refgc " + shlex.join(argv))
        return 0
    return build(args.recipe)


def _validate(args):
    from .validate import validate

    v = validate(args.results, args.labeller, top=args.top, fmax=args.fmax, steps=args.steps, flagged=args.flagged,
                 progress=not args.quiet)
    print(f"\n{args.results} checked with {args.labeller}: ΔG in eV per cell; error = model − labeller at the "
          "model's geometry")
    print(f"{'rank':>4}  {'added':<14} {'model':>8} {'labeller':>9} {'relaxed':>8} {'error':>7} {'meV/atom':>9} "
          f"{'labeller rank':>13}")
    for rank, r in enumerate(v.rows, 1):
        added = describe(r["composition"], r.get("removed"))
        if "error" in r:
            print(f"{rank:4d}  {added:<14} {r['model']:8.3f}  labeller failed: {r['error']}")
            continue
        print(f"{rank:4d}  {added:<14} {r['model']:8.3f} {r['labeller_at_model']:9.3f} {r['labeller_relaxed']:8.3f} "
              f"{r['error_per_cell']:7.3f} {1e3 * r['error_per_atom']:9.1f} {r['labeller_rank']:13d}")
    median, largest = v.error_per_atom()
    print(f"\n|model − labeller| at the model's geometry: median {median:.1f} meV/atom, largest {largest:.1f} "
          f"({len(v.checked)} structures)")
    model_best, labeller_best = v.winners()
    same = model_best is labeller_best
    print(f"winner: {'the same' if same else 'changes'} (the model's best is the labeller's rank "
          f"{model_best['labeller_rank']})")
    failed = [r for r in v.rows if "error" in r]
    if failed:
        print(f"{len(failed)} structure(s) the labeller failed on, skipped: " + ", ".join(r["key"] for r in failed))
    if args.flagged:
        print(f"\n{len(v.flagged)} restart(s) flagged by the contact check" + (", at the model's geometry:" if v.flagged else ""))
        for r in v.flagged:
            added = describe(r["composition"], r.get("removed"))
            numbers = (f"labeller failed: {r['error']}" if "error" in r else
                       f"model {r['model']:.3f}, labeller {r['labeller_at_model']:.3f}, error {r['error_per_cell']:.3f} eV "
                       f"({1e3 * r['error_per_atom']:.1f} meV/atom)")
            print(f"  restart {r['restart']}  {added}: {numbers}; {'; '.join(r['flags'])}")


def _reference(args):
    from .crosscheck import write_reference

    path = write_reference(args.out)
    files = json.loads(path.read_text())["models"]
    print(f"wrote {path} and its model files {', '.join(str(path.parent / f) for f in files)}")


def _compare(args):
    from .crosscheck import compare, describe, first_departures, load_document, reference_suite

    theirs = load_document(args.theirs)
    reference = load_document(Path(args.reference) / "reference.json") if args.reference else reference_suite()
    overrides = {}
    if args.rtol is not None or args.atol is not None:
        from .crosscheck import TOLERANCES

        overrides = {k: (args.rtol if args.rtol is not None else r, args.atol if args.atol is not None else a)
                     for k, (r, a) in TOLERANCES.items()}
    rows = compare(theirs, reference, overrides)
    width = max(len(r[0]) for r in rows)
    print(f"{'case':<{width}}  {'quantity':<34} {'max abs err':>12} {'max rel err':>12} {'err/tol':>9}  result")
    for case, quantity, max_abs, max_rel, passed, ratio in rows:
        print(f"{case:<{width}}  {quantity:<34} {max_abs:12.3e} {max_rel:12.3e} {ratio:9.2e}  {'pass' if passed else 'FAIL'}")
    failed = [r for r in rows if not r[4]]
    print(f"\n{len(rows) - len(failed)} passed, {len(failed)} failed")
    for case, row in first_departures(rows).items():  # rows are in causal order: h⁰, h¹, …, E, ΔG
        print(f"case {case}: first departs at {describe(row[1])}", file=sys.stderr)
    return 1 if failed else 0


def parser():
    p = argparse.ArgumentParser(prog="refgc", description="Grand canonical optimization with fractional existence.")
    p.add_argument("--version", action="version", version=f"refgc {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def command(name, help):
        """A sub-command whose --help (and the docs' reference) opens with its one-line help."""
        return sub.add_parser(name, help=help, description=help[0].upper() + help[1:] + ".")

    o = command("optimize", "grand canonical optimization of a slab at given chemical potentials")
    o.add_argument("slab", nargs="?", help="the template slab, any file ASE reads (default: the Cu(110) c(6x2) template)")
    o.add_argument("--mu", action="append", metavar="X=DMU",
                   help="Δμ of an element in eV relative to the model's reference, e.g. O=-1.0 (repeat for more)")
    o.add_argument("--T", type=float, metavar="K", help="temperature in K, with --p")
    o.add_argument("--p", action="append", metavar="X2=BAR",
                   help="partial pressure of a gas in bar, e.g. O2=1e-9: Δμ_O from T and p (NIST-JANAF; refgc.gas)")
    _add_search_options(o, "refgc-optimize")
    o.set_defaults(run=_optimize)

    g = command("diagram", "the phase diagram of a slab: optimize at several Δμ of one element and rank every "
                           "structure found at every Δμ")
    g.add_argument("slab", nargs="?", help="the template slab, any file ASE reads (default: the Cu(110) c(6x2) template)")
    g.add_argument("--vary", required=True, metavar="X", help="the element whose Δμ varies, e.g. O")
    g.add_argument("--dmu", type=float, nargs="+", required=True, metavar="DMU", help="its Δμ values, eV")
    g.add_argument("--mu", action="append", metavar="X=DMU", help="Δμ of another element in eV (repeat for more)")
    _add_search_options(g, "refgc-diagram", "folder for the results, one refgc optimize folder per Δμ; rerun to resume")
    g.set_defaults(run=_diagram)

    d = command("data", "label training data for a slab with a labeller (resumable)")
    d.add_argument("slab", help="the template slab, any file ASE reads (FixAtoms kept)")
    d.add_argument("--species", nargs="+", required=True, help="the elements to add, e.g. Cu O")
    d.add_argument("--labeller", required=True, metavar="SPEC",
                   help="emt, sevenn:MODEL (e.g. sevenn:7net-0), mace_mp:MODEL or module:factory")
    d.add_argument("--out", required=True, help="extended XYZ file the frames are appended to; rerun to resume")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--n-insertion", type=int, default=300, help="single points of random insertions")
    d.add_argument("--n-relax", type=int, default=280, help="random insertions relaxed by the labeller")
    d.add_argument("--n-template", type=int, default=60, help="the bare slab, relaxed and rattled")
    d.add_argument("--n-gas", type=int, default=40, help="dimers of each gas-phase species (H, N, O)")
    d.add_argument("--n-bulk", type=int, default=80, help="crystals of each other species")
    d.add_argument("--relax-steps", type=int, default=80, help="steps of each relaxation at most")
    d.add_argument("--max-added", nargs="+", metavar="X=N",
                   help="the most atoms of an element one insertion adds (default: one per 7 Å² of surface)")
    d.add_argument("--removable", nargs="+", metavar="I",
                   help="template atoms removed at random in the insertions and relaxations (for refgc optimize "
                        "--removable): 'top' (the top layer) or their indices")
    d.add_argument("--workers", type=int, default=1, help="labelling processes")
    d.add_argument("--references", metavar="FILE",
                   help="JSON file for the labeller's μ_ref (default: OUT's name with .references.json)")
    d.add_argument("--quiet", action="store_true", help="no progress bar")
    d.set_defaults(run=_data)

    a = command("learn", "active learning: label where the model's optimizer goes, fine-tune, keep "
                                     "what is better on held-out visits (resumable)")
    a.add_argument("model", help="the model file to start from, or a shipped model's name")
    a.add_argument("slab", help="the template slab, any file ASE reads")
    a.add_argument("--labeller", required=True, metavar="SPEC",
                   help="emt, sevenn:MODEL (e.g. sevenn:7net-0), mace_mp:MODEL or module:factory")
    a.add_argument("--rounds", type=int, required=True)
    a.add_argument("--mu", action="append", required=True, metavar="X=V1,V2",
                   help="the Δμ values of an element to optimize at, eV (repeat per element; every combination)")
    a.add_argument("--out", required=True, help="folder for the rounds, learn.json and model.npz; rerun to resume")
    a.add_argument("--data", nargs="+", help="the files the model was trained on (default: its provenance's)")
    a.add_argument("--test", help="frames never trained on, scored each round (default: the model's test file)")
    a.add_argument("--restarts", type=int, default=4, help="restarts per Δμ whose visits are trained on")
    a.add_argument("--test-restarts", type=int, default=2, help="restarts per Δμ whose visits are held out")
    a.add_argument("--snapshots", type=int, default=2, help="fractional-stage frames per restart besides its end")
    a.add_argument("--paths", type=int, default=0, metavar="N",
                   help="also label N frames along the labeller's relaxation of each restart's end (default 0)")
    a.add_argument("--weight", type=int, default=4, help="how many times the labelled visits count in training")
    a.add_argument("--epochs", type=int, default=10, help="fine-tuning epochs per round at most")
    a.add_argument("--learning-rate", type=float, default=1e-4, help="fine-tuning learning rate (other training "
                                                                         "settings: the starting model's)")
    a.add_argument("--workers", type=int, default=1, help="processes sharing each training batch")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--removable", nargs="+", metavar="I",
                   help="template atoms the search may remove: 'top' (the top layer) or their indices")
    a.add_argument("--serial", action="store_true", help="run the restarts in this process")
    a.add_argument("--quiet", action="store_true", help="no progress bars")
    a.set_defaults(run=_learn)

    b = command("build", "run a recipe: the data, train, learn, ... steps that make a model (resumable)")
    b.add_argument("recipe", help="TOML file of [[step]] tables, each a refgc command and its options")
    b.add_argument("--print", action="store_true", help="print the steps' command lines, run nothing")
    b.set_defaults(run=_build)

    v = command("validate", "check the structures of a refgc optimize result with the labeller")
    v.add_argument("results", help="the folder or .db file that refgc optimize wrote")
    v.add_argument("--labeller", required=True, metavar="SPEC",
                   help="emt, sevenn:MODEL (e.g. sevenn:7net-0), mace_mp:MODEL or module:factory")
    v.add_argument("--top", type=int, help="only the TOP best distinct structures by the model (default: all)")
    v.add_argument("--fmax", type=float, default=0.05, help="the labeller's relaxations stop here, eV/Å")
    v.add_argument("--steps", type=int, default=500, help="at most this many relaxation steps per structure")
    v.add_argument("--flagged", action="store_true",
                   help="also check every restart the contact check flags, at the model's geometry: a hole or not")
    v.add_argument("--quiet", action="store_true", help="no progress bar")
    v.set_defaults(run=_validate)

    r = command("reference", "write the cross-check reference suite (JSON) and its three model files")
    r.add_argument("--out", required=True, help="folder for reference.json, model.npz and model_silu.npz")
    r.set_defaults(run=_reference)

    c = command("compare", "compare another implementation's outputs with the reference suite")
    c.add_argument("theirs", help="their JSON file, in the reference schema (version 3)")
    c.add_argument("--reference", help="folder written by `refgc reference` (default: computed now)")
    c.add_argument("--rtol", type=float, help="relative tolerance for every quantity (default: per quantity)")
    c.add_argument("--atol", type=float, help="absolute tolerance for every quantity (default: per quantity)")
    c.set_defaults(run=_compare)

    t = command("train", "train a model on labelled extended XYZ frames")
    t.add_argument("data", nargs="+", help="extended XYZ files with energies and forces (.xz/.gz allowed)")
    t.add_argument("--out", required=True, help="model file to write (.npz)")
    t.add_argument("--validation", help="frames for early stopping (default: a split of DATA by trajectory)")
    t.add_argument("--validation-from", metavar="FILE", nargs="+",
                   help="draw the validation split (--validation-fraction, by trajectory) from these DATA files "
                        "only; for fine-tuning on appended data")
    t.add_argument("--test", help="held-out frames, never trained on: their errors are printed and stored")
    t.add_argument("--references", help="JSON with {'mu_ref': {symbol: eV}, ...} to store in the model")
    t.add_argument("--checkpoint", help="checkpoint file, written every epoch; training resumes from it")
    t.add_argument("--init", help="start from this model file or shipped model (fine-tuning; its config is used, except that "
                                  "--interactions may add blocks and --features/--filters widen it)")
    t.add_argument("--species", nargs="+", help="species of the model (default: those in DATA)")
    t.add_argument("--cutoff", type=float, help="Å (default 6)")
    t.add_argument("--features", type=int, help="default 64")
    t.add_argument("--filters", type=int, help="default: = --features")
    t.add_argument("--rbf", type=int, help="default 20")
    t.add_argument("--interactions", type=int, help="default 3")
    t.add_argument("--prior-strength", type=float, help="A of the repulsive prior, eV (default 5; may differ from --init's)")
    t.add_argument("--prior-radius-scale", type=float, help="s of the prior's radii s·(R_a + R_b) (default 0.6)")
    t.add_argument("--floor-radius-scale", type=float,
                   help="s_f of the network's distance floors s_f·(R_a + R_b): the network sees no pair closer "
                        "(default 0, none; may differ from --init's)")
    t.add_argument("--max-force", type=float, help="leave out (and list) frames with a force component above this, eV/Å")
    for f in fields(TrainSettings):
        t.add_argument("--" + f.name.replace("_", "-"), dest=f.name, type=type(f.default),
                       help=f"default {f.default}")
    t.set_defaults(run=_train)
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except (ValueError, FileNotFoundError, BackendUnavailable) as err:
        print(f"refgc {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

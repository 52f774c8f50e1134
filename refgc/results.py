"""Results of a grand canonical optimization: :class:`Run`, :class:`GCResult`, and restarts on disk.

Every finished restart is written as soon as it is back in the main process (only the
main process writes, so parallel workers never share a file), to either

* a **folder**: ``restart-0003.extxyz`` (the final structure; its ``info`` holds ΔG, the
  composition, the restart's key), ``restart-0003.trajectory.extxyz`` (the fractional
  stage, one frame per snapshot, with an ``existence`` array), ``restart-0003.npz`` (the
  same numbers exactly, since extended XYZ keeps 8 decimals: what a resume reads),
  ``template.extxyz`` (the relaxed template, every atom present), plus ``best.extxyz`` and
  ``summary.json`` (ranked) when the run ends; or
* an **ASE database** (``*.db``, SQLite): one row per restart with ``gibbs``,
  ``restart``, ``seed``, ``key``, ``dmu_<X>`` and ``n_<X>`` as key-value pairs (so
  ``ase db results.db gibbs<0`` queries it) and the trajectory in the row's data; the
  relaxed template in the database's metadata.

A restart is identified by a key: a hash of everything that determines it (the slab as
given, chemical potentials, candidates, region and the other settings, model, seed,
restart index). Running again with the same output skips restarts whose key is there, so
an interrupted run resumes and ends with the same result. (The keys of refgc 0.1 hashed
the relaxed template, whose last digits change with any rounding in the model: its
restarts are computed again by 0.2, not resumed; the keys of 0.3 include the polish and
mixtures settings, so restarts of 0.2, which had neither, are computed again by 0.3; those of
0.4 include the hops and the fractional stage's new tolerance, so restarts of 0.3 are computed
again by 0.4.)
"""

import hashlib
import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.constraints import FixAtoms
from ase.io import jsonio, read, write

__all__ = ["Run", "GCResult", "RunStore", "problem_key", "write_json"]


def write_json(path, document):
    """Write ``document`` as JSON to ``path``, complete or not at all: through a temporary
    file beside it, renamed over it (the state files of the resumable commands)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(document, indent=1))
    os.replace(tmp, path)


def describe(added, removed=None):
    """'Cu2 O4', '−Cu1 O2' (one Cu removed, two O added) or 'nothing'."""
    parts = [f"−{s}{n}" for s, n in (removed or {}).items() if n] + [f"{s}{n}" for s, n in added.items() if n]
    return " ".join(parts) or "nothing"


@dataclass
class Run:
    """The outcome of one restart."""

    restart: int
    structure: Atoms  # the template (less the atoms removed) + the added atoms that survived, relaxed, q = 1
    gibbs: float  # ΔG per cell, eV
    composition: dict  # {symbol: number of atoms added}
    trajectory: list = field(default_factory=list)  # [(positions (N, 3), q (N,))], fractional stage
    symbols: list = field(default_factory=list)  # (N,) of the trajectory: template + every candidate
    n_evaluations: int = 0
    seconds: float = 0.0
    key: str = ""  # identifies the restart (problem_key)
    seed: str = ""
    removed: dict = field(default_factory=dict)  # {symbol: number of removable template atoms removed}

    @property
    def change(self):
        """What the restart did to the template, as one hashable key: ((symbol, added), ...),
        ((symbol, removed), ...)."""
        return tuple(sorted(self.composition.items())), tuple(sorted((s, n) for s, n in self.removed.items() if n))

    def describe(self):
        """What the restart added and removed, e.g. 'Cu2 O4' or '−Cu1 O2' (:func:`describe`)."""
        return describe(self.composition, self.removed)


@dataclass
class GCResult:
    """Every restart's outcome, best first, and the relaxed template as an answer of its own.

    ``runs`` are the restarts. ``template``, when given, is the template itself as a
    :class:`Run` with ``restart = -1``, nothing added and ΔG = 0 by definition: it takes
    part in the ranking (:meth:`ranked`, :attr:`best`, :meth:`distinct`), so that the
    answer to "which structure?" is never worse than adding nothing."""

    runs: list
    area: float  # Å²
    mu: dict  # the Δμ asked for
    template: Run = None

    def ranked(self):
        """The answers, best first: every restart and the template (if given); ties keep
        the restarts first."""
        answers = self.runs + ([self.template] if self.template is not None else [])
        return sorted(answers, key=lambda r: (r.gibbs, r.restart < 0))

    @property
    def best_run(self):
        return self.ranked()[0]

    @property
    def best(self):
        return self.best_run.structure

    @property
    def gibbs(self):
        """ΔG of the best structure, eV per cell."""
        return self.best_run.gibbs

    @property
    def gibbs_per_area(self):
        """ΔG of the best structure, meV/Å²."""
        return 1e3 * self.gibbs / self.area

    @property
    def composition(self):
        return self.best_run.composition

    def distinct(self, tol=1e-3):
        """One answer per distinct outcome (the template included): same composition and ΔG
        within ``tol`` eV."""
        out = []
        for run in self.ranked():
            if not any(r.change == run.change and abs(r.gibbs - run.gibbs) < tol for r in out):
                out.append(run)
        return out

    def flags(self, run):
        """The contact check of ``run``'s structure (:func:`refgc.contacts.check`): a list of
        one-line problems (too-short pairs, atoms detached from the slab), empty if it
        passes. Needs :attr:`template` (for the number of template atoms)."""
        from .contacts import check

        if self.template is None:
            raise ValueError("the contact check needs the result's template (GCResult.template)")
        return check(run.structure, len(self.template.structure) - sum(run.removed.values()))

    def compositions(self):
        """What the restarts added, best first: [{"added": {symbol: n}, "restarts": how many
        ended with it, "best_gibbs": the lowest ΔG among them (eV)}], with "removed":
        {symbol: n} when template atoms were removable. Shows which compositions the search
        explored, not only which one won."""
        found = {}
        for run in self.runs:  # best first, so the first run of a composition is its best
            entry = found.setdefault(run.change, {"added": dict(run.change[0]), "restarts": 0, "best_gibbs": run.gibbs,
                                                  **({"removed": dict(run.removed)} if run.removed else {})})
            entry["restarts"] += 1
        return list(found.values())

    def summary(self):
        """What ``summary.json`` holds; ``flags``: the contact check of each answer
        (:meth:`flags`; absent without a template)."""

        def checked(run):
            return self.flags(run) if self.template is not None else None

        return {
            "mu": self.mu, "area": self.area, "best_gibbs": self.gibbs, "best_gibbs_per_area": self.gibbs_per_area,
            "best": "template" if self.best_run.restart < 0 else f"restart {self.best_run.restart}",
            "best_flags": checked(self.best_run),
            "compositions": self.compositions(),
            "runs": [dict(restart=r.restart, gibbs=r.gibbs, gibbs_per_area=1e3 * r.gibbs / self.area,
                          composition=r.composition, **({"removed": r.removed} if r.removed else {}),
                          n_evaluations=r.n_evaluations, seconds=r.seconds, flags=checked(r))
                     for r in self.runs],
        }  # fmt: skip

    def write(self, folder):
        """Every restart with its trajectory, ``best.extxyz`` and ``summary.json``."""
        store = RunStore(folder)
        for run in self.runs:
            store.add(run, self.mu)
        self.write_summary(folder)

    def write_summary(self, folder):
        write(Path(folder) / "best.extxyz", self.best, format="extxyz")
        (Path(folder) / "summary.json").write_text(json.dumps(self.summary(), indent=1))


def problem_key(problem, slab, seed_entropy, restart):
    """A hash of everything that determines one restart: the slab as given (not the template
    relaxed from it, whose last digits follow the floating-point details of the model),
    the model, the chemical potentials, the candidates and every setting of the restart."""
    h = hashlib.sha256()
    settings = {f.name: getattr(problem, f.name) for f in fields(problem)
                if f.name not in ("model", "template", "template_energy", "fixed", "mu", "candidates")
                and not (f.name == "removable" and not problem.removable)}  # keys of runs without removable atoms as before
    for part in (slab.get_chemical_symbols(), slab.positions.round(10).tolist(), slab.cell[:].round(10).tolist(),
                 problem.fixed.tolist(), sorted(problem.mu.items()), list(problem.candidates), sorted(settings.items()),
                 _model_fingerprint(problem.model), [str(seed_entropy), restart]):
        h.update(json.dumps(part, default=str).encode())
    return "k" + h.hexdigest()[:16]  # a letter first: extended XYZ would read digits as a number


def _model_fingerprint(model):
    params = getattr(model, "params", None)
    if params is not None:
        from .modelfile import parameters_digest

        return parameters_digest(params)
    return repr(sorted(vars(model).items(), key=lambda kv: kv[0]))


def _extras(atoms):
    """npz entries for what a resumed run must give back besides numbers and positions,
    so its ``best.extxyz`` is the file an uninterrupted run writes: every per-atom array
    (``tags``, ``momenta``, ...) as ``array_<name>``, and ``info`` as ASE's JSON (entries
    it cannot encode are left out)."""
    out = {f"array_{name}": value for name, value in atoms.arrays.items()
           if name not in ("numbers", "positions") and value.dtype != object}
    info = {}
    for key, value in atoms.info.items():
        try:
            jsonio.encode(value)
        except (TypeError, ValueError):
            continue
        info[key] = value
    out["info"] = np.array(jsonio.encode(info))
    return out


def _restore_extras(atoms, npz):
    for name in npz.files:
        if name.startswith("array_"):
            atoms.set_array(name[len("array_"):], npz[name])
    if "info" in npz.files:
        atoms.info.update(jsonio.decode(str(npz["info"])))


class RunStore:
    """Finished restarts in a folder or an ASE database (``.db``), by key."""

    def __init__(self, path):
        self.path = Path(path)
        self.is_db = self.path.suffix == ".db"
        if not self.is_db:
            self.path.mkdir(parents=True, exist_ok=True)

    def add(self, run, mu):
        info = dict(gibbs=run.gibbs, restart=run.restart, key=run.key, seed=str(run.seed),
                    n_evaluations=run.n_evaluations, seconds=run.seconds,
                    **{f"n_{s}": n for s, n in run.composition.items()}, **{f"removed_{s}": n for s, n in run.removed.items()},
                    **{f"dmu_{s}": v for s, v in mu.items()})
        positions = np.array([x for x, _ in run.trajectory])
        existence = np.array([q for _, q in run.trajectory])
        if self.is_db:
            from ase.db import connect

            with connect(self.path) as db:
                db.write(run.structure, key_value_pairs=info,
                         data={"trajectory_positions": positions, "trajectory_existence": existence,
                               "composition": json.dumps(run.composition), "symbols": json.dumps(run.symbols),
                               "removed": json.dumps(run.removed)})
            return
        stem = self.path / f"restart-{run.restart:04d}"
        meta = dict(info, composition=run.composition, symbols=run.symbols, removed=run.removed)
        fixed = [i for c in run.structure.constraints for i in c.get_indices()]
        tmp = stem.with_suffix(".npz.tmp")
        with open(tmp, "wb") as f:  # exact numbers (extended XYZ keeps 8 decimals): what a resume reads
            np.savez(f, meta=np.array(json.dumps(meta)), numbers=run.structure.numbers,
                      positions=run.structure.positions, cell=run.structure.cell[:], pbc=run.structure.pbc,
                      fixed=np.array(fixed, dtype=int), trajectory_positions=positions,
                      trajectory_existence=existence, **_extras(run.structure))
        tmp.replace(stem.with_suffix(".npz"))  # complete or absent, never half-written
        structure = run.structure.copy()
        structure.info.update(info, composition=json.dumps(run.composition), removed=json.dumps(run.removed))
        write(stem.with_suffix(".extxyz"), structure, format="extxyz")
        frames = []
        for x, q in run.trajectory:
            frame = Atoms(run.symbols, positions=x, cell=run.structure.cell, pbc=run.structure.pbc)
            frame.set_array("existence", q)
            frames.append(frame)
        write(self.path / f"restart-{run.restart:04d}.trajectory.extxyz", frames, format="extxyz")

    def write_template(self, template):
        """Store the relaxed template (what ΔG is measured from: with removable atoms, the
        restarts' structures no longer contain all of it)."""
        if self.is_db:
            from ase.db import connect

            with connect(self.path) as db:
                db.metadata = dict(db.metadata, template=jsonio.encode(template))
            return
        plain = template.copy()  # extended XYZ keeps scalar info only (ASE's fcc110 adds a dict)
        plain.info = {k: v for k, v in template.info.items() if isinstance(v, (str, int, float, bool))}
        write(self.path / "template.extxyz", plain, format="extxyz")

    def template(self):
        """The stored relaxed template, or ``None`` (results of refgc < 0.5 have none)."""
        if self.is_db:
            from ase.db import connect

            encoded = connect(self.path).metadata.get("template") if self.path.exists() else None
            return jsonio.decode(encoded) if encoded else None
        path = self.path / "template.extxyz"
        return read(path) if path.exists() else None

    def load(self):
        """{key: Run} of every restart stored (trajectories included)."""
        out = {}
        if self.is_db:
            if not self.path.exists():
                return out
            from ase.db import connect

            for row in connect(self.path).select():
                run = Run(restart=row.restart, structure=row.toatoms(), gibbs=row.gibbs,
                          composition=json.loads(row.data["composition"]),
                          trajectory=list(zip(row.data["trajectory_positions"], row.data["trajectory_existence"])),
                          symbols=json.loads(row.data["symbols"]), n_evaluations=row.n_evaluations,
                          seconds=row.seconds, key=row.key, seed=str(row.seed),
                          removed=json.loads(row.data.get("removed", "{}")))
                out[row.key] = run
            return out
        for path in sorted(self.path.glob("restart-[0-9][0-9][0-9][0-9].npz")):
            with np.load(path, allow_pickle=False) as npz:
                meta = json.loads(str(npz["meta"]))
                atoms = Atoms(numbers=npz["numbers"], positions=npz["positions"], cell=npz["cell"], pbc=npz["pbc"])
                if len(npz["fixed"]):
                    atoms.set_constraint(FixAtoms(indices=npz["fixed"]))
                _restore_extras(atoms, npz)  # files of refgc <= 0.2.0 have none: no tags, no info
                trajectory = list(zip(npz["trajectory_positions"], npz["trajectory_existence"]))
            out[meta["key"]] = Run(restart=meta["restart"], structure=atoms, gibbs=meta["gibbs"],
                                   composition=meta["composition"], trajectory=trajectory, symbols=meta["symbols"],
                                   n_evaluations=meta["n_evaluations"], seconds=meta["seconds"],
                                   key=meta["key"], seed=meta["seed"], removed=meta.get("removed", {}))
        return out


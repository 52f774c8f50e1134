r"""Check what the optimizer found against the labeller: ``refgc validate RESULTS --labeller SPEC``.

A model is accurate on its test set, but the optimizer goes wherever the model is lowest,
including where it is wrong. The paper's answer, "validated against DFT", is this module:
for each distinct structure of a ``refgc optimize`` result (folder or ``.db``) the labeller
gives

* ΔG at the model's geometry: a single point, so the model's error per cell and per atom
  is the labeller's disagreement on the very structure the model ranked;
* ΔG after relaxing with the labeller (ASE's BFGS, ``FixAtoms`` kept): the answer the
  labeller would give, and so whether the ranking, above all its winner, changes.

Both use the labeller's own references (:func:`refgc.labeller.references`) and its own
relaxed template, never the model's:

.. math:: \Delta G^{L} = E^{L}(\text{structure}) - E^{L}_{slab}
          - \sum_{\text{added}} (\mu_X^{ref,L} + \Delta\mu_X).

The relaxed template itself is ranked too (ΔG = 0 for both). With ``flagged=True`` every
restart the contact check flags (:func:`refgc.contacts.check`: a fragment detached from the
slab, a too-short pair) is also computed with the labeller at the model's geometry, ranked
or not: a hole is a flagged structure the model puts far below the labeller, while a
molecule left in the cell at the gas's own μ is a flagged structure on which they agree.
Everything is written to
``validation.json`` in the results folder (beside a ``.db``), per labeller, after each
structure: an interrupted validation resumes and never relabels what is done. A structure
on which the labeller raises is named, skipped, and the rest go on.
"""

import json
from collections import Counter
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .contacts import check
from .gibbs import structure_free_energy
from .labeller import labeller as make_labeller
from .labeller import references, relax_with
from .results import GCResult, RunStore, write_json

__all__ = ["validate", "load_result", "Validation"]


def load_result(path):
    """``(runs, dmu)`` of a ``refgc optimize`` folder or ``.db``: every stored restart and
    the Δμ it was run at. A path with no restarts is a one-line ``ValueError``."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"no results at {path}")
    runs = list(RunStore(path).load().values())
    if not runs:
        raise ValueError(f"no refgc optimize restarts in {path}")
    if path.suffix == ".db":
        from ase.db import connect

        row = next(connect(path).select(limit=1))
        pairs = row.key_value_pairs
    else:
        restart = sorted(path.glob("restart-[0-9][0-9][0-9][0-9].npz"))[0]
        with np.load(restart, allow_pickle=False) as npz:
            pairs = json.loads(str(npz["meta"]))
    dmu = {k[len("dmu_"):]: float(v) for k, v in pairs.items() if k.startswith("dmu_")}
    return sorted(runs, key=lambda r: (r.gibbs, r.restart)), dmu


#: eV per cell: two structures whose relaxed labeller ΔG differ by less are tied for the best
TIE = 0.005


def _state_path(path):
    path = Path(path)
    return path.with_name(path.name + ".validation.json") if path.suffix == ".db" else path / "validation.json"


class Validation:
    """The rows of a validation, best by the model first, and what they say."""

    def __init__(self, spec, rows, flagged=()):
        self.spec, self.rows, self.flagged = spec, rows, list(flagged)
        ok = [r for r in rows if "error" not in r]
        for rank, r in enumerate(sorted(ok, key=lambda r: r["labeller_relaxed"]), 1):
            r["labeller_rank"] = rank

    @property
    def checked(self):
        """The rows the labeller could compute (not the template's)."""
        return [r for r in self.rows if "error" not in r and r["key"] != "template"]

    def error_per_atom(self):
        """The model's error ``|model − labeller|`` at the model's geometry, meV/atom: (median, max) over the checked rows."""
        errors = [abs(r["error_per_atom"]) * 1e3 for r in self.checked]
        return (float(np.median(errors)), float(np.max(errors))) if errors else (np.nan, np.nan)

    def winners(self, tie=TIE):
        """(the model's best row, the labeller's best row after relaxation). The model's best
        is the labeller's best too when it is within ``tie`` eV per cell of it: relaxations to
        a finite fmax leave meV of noise, as between the bare template and a restart that
        ended bare."""
        ok = [r for r in self.rows if "error" not in r]
        best = min(ok, key=lambda r: r["labeller_relaxed"])
        return ok[0], (ok[0] if ok[0]["labeller_relaxed"] <= best["labeller_relaxed"] + tie else best)


def validate(path, spec, *, top=None, fmax=0.05, steps=500, flagged=False, progress=True):
    """Validate the result at ``path`` with the labeller ``spec``; returns a :class:`Validation`.

    ``top``: only the ``top`` best distinct structures by the model (default: all).
    ``fmax`` (eV/Å) and ``steps``: the labeller's relaxations. ``flagged``: also every
    restart the contact check flags, at the model's geometry (``Validation.flagged``: one
    row per restart with its ``flags``, ``labeller_at_model`` and errors)."""
    lab = make_labeller(spec)  # a bad spec fails here, before anything is read or computed
    if top is not None and not (isinstance(top, int) and top >= 1):
        raise ValueError(f"top must be a positive integer, got {top!r}")
    runs, dmu = load_result(path)
    distinct = GCResult(runs=runs, area=1.0, mu=dmu).distinct()[:top]
    template = RunStore(path).template()
    if template is None:  # results written before template.extxyz, which could not remove template atoms
        if any(sum(r.removed.values()) for r in runs):
            raise ValueError(f"{path} has restarts that removed template atoms but no stored template")
        template = runs[0].structure[: len(runs[0].structure) - sum(runs[0].composition.values())]
    n_t = len(template)
    state_path = _state_path(path)
    document = json.loads(state_path.read_text()) if state_path.exists() else {}
    state = document.setdefault(spec, {"dmu": dmu, "structures": {}})
    calc = lab()
    species = sorted({s for r in runs for s in (*r.composition, *r.removed)} | set(dmu))
    if "references" not in state:
        try:
            state["references"] = references(calc, species)
        except Exception as err:  # the labeller's own error, e.g. an element it does not know
            raise ValueError(f"labeller {spec!r} cannot compute the references of {', '.join(species)} "
                             f"({type(err).__name__}: {err})") from None
        write_json(state_path, document)
    if "template_energy" not in state:
        _, state["template_energy"], _ = relax_with(calc, template, fmax=fmax, steps=steps)
        write_json(state_path, document)
    mu = {s: state["references"][s] + dmu.get(s, 0.0) for s in species}

    def gibbs(run, atoms, energy):
        """ΔG of a restart's structure: its template atoms come first, less those removed."""
        added = Counter(atoms.get_chemical_symbols()[n_t - sum(run.removed.values()):])
        return structure_free_energy(energy, state["template_energy"], added, run.removed, mu)

    def labelled(run, relax):
        """A restart's row: the labeller's ΔG at the model's geometry and the model's error,
        and with ``relax`` the labeller's ΔG after relaxing it; a labeller error is named."""
        row = {"restart": run.restart, "composition": run.composition, "n_atoms": len(run.structure),
               "model": run.gibbs, **({"removed": run.removed} if run.removed else {})}
        try:
            atoms = run.structure.copy()
            atoms.calc = calc
            at_model = gibbs(run, atoms, float(atoms.get_potential_energy()))
            row.update(labeller_at_model=at_model, error_per_cell=run.gibbs - at_model,
                       error_per_atom=(run.gibbs - at_model) / len(run.structure))
            if relax:
                relaxed, energy, n = relax_with(calc, run.structure, fmax=fmax, steps=steps)
                row.update(labeller_relaxed=gibbs(run, relaxed, energy), labeller_steps=n)
        except Exception as err:  # name the structure, skip it, go on
            row["error"] = f"{type(err).__name__}: {err}"
        return row

    for run in tqdm(distinct, desc=f"validate ({spec})", unit="structure", disable=not progress):
        if run.key not in state["structures"]:
            state["structures"][run.key] = {"key": run.key, **labelled(run, relax=True)}
            write_json(state_path, document)
    flagged_rows = []
    if flagged:
        done = state.setdefault("flagged", {})
        for run in runs:
            flags = check(run.structure, n_t - sum(run.removed.values()))
            key = f"restart-{run.restart:04d}"
            if flags and key not in done:
                done[key] = {**labelled(run, relax=False), "flags": flags}
                write_json(state_path, document)
            if flags:
                flagged_rows.append(done[key])
    rows = [state["structures"][run.key] for run in distinct]
    template_row = {"key": "template", "restart": -1, "composition": {s: 0 for s in runs[0].composition},
                    "n_atoms": n_t, "model": 0.0, "labeller_at_model": 0.0, "labeller_relaxed": 0.0,
                    "error_per_cell": 0.0, "error_per_atom": 0.0}
    rows = sorted(rows + [template_row], key=lambda r: (r["model"], r["key"] == "template"))
    return Validation(spec, rows, flagged_rows)

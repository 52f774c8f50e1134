"""Active learning: teach a model where its own optimizer goes. ``refgc learn``.

The optimizer goes wherever the model is lowest, and that is where the model's errors
matter. One round:

1. **optimize** with the current model at every Δμ of the grid (``restarts`` each);
2. **label** what the restarts visited and ended in (:func:`refgc.datagen.frames_from_runs`:
   each final structure and a few discretised snapshots of the fractional stage) with the
   labeller, and with ``paths`` a few frames of the labeller's own relaxation of each final
   structure (:func:`refgc.datagen.relax_paths`: where the model's minimum is not the
   labeller's, the path between them);
3. **hold out**: the same from other restarts (``test_restarts``, another seed), labelled
   but never trained on;
4. **fine-tune** the current model on the original data and every round's labels so far
   (:func:`refgc.training.train_from_files` with ``init``, the validation frames drawn
   from this round's labels);
5. **keep** the new model only if its energy error on this round's held-out frames is no
   larger than the current model's: a model is kept only where it is measured to be better.

Everything is written under ``out``: ``round-K/`` (the optimizations, ``visits.extxyz``,
``heldout.extxyz``, ``model.npz``, a training checkpoint), ``learn.json`` (the recipe and
each finished round's numbers) and ``model.npz`` (the model kept last). Every step
resumes: optimizations from their restarts on disk, labels from the frames already in the
files, training from its checkpoint, rounds from ``learn.json``.
"""

import dataclasses
import hashlib
import itertools
import json
import shutil
from pathlib import Path

import numpy as np

from . import datagen
from .data import read_frames
from .grandcanonical import optimize
from .labeller import labeller as make_labeller
from .modelfile import lineage, load_model
from .results import write_json
from .system import check_count
from .training import TrainSettings, metrics, train_from_files

__all__ = ["learn", "mu_grid", "training_settings"]


def mu_grid(mu):
    """{symbol: [Δμ, ...]} -> the list of every combination, e.g. {"O": [-1, 0], "Cu": [0]}
    -> [{"O": -1, "Cu": 0}, {"O": 0, "Cu": 0}]."""
    symbols = sorted(mu)
    return [dict(zip(symbols, values)) for values in itertools.product(*(mu[s] for s in symbols))]


def training_settings(provenance, **overrides):
    """The :class:`~refgc.training.TrainSettings` the model with this ``provenance`` was
    trained with (the latest training that ran epochs, through ``fine_tuned_from``; the
    defaults if none is recorded), with ``overrides`` (None values ignored)."""
    trained = (p["training"]["settings"] for p in lineage(provenance)
               if p.get("training", {}).get("settings", {}).get("max_epochs", 0) > 0)
    recorded = next(trained, {})
    known = {f.name for f in dataclasses.fields(TrainSettings)}
    values = {k: v for k, v in recorded.items() if k in known}
    return TrainSettings(**(values | {k: v for k, v in overrides.items() if v is not None}))


def fingerprint(atoms):
    """A short name of a structure that changes when it does: formula and a digest of its
    species, positions (to 10⁻⁶ Å), cell and fixed atoms."""
    from ase.constraints import FixAtoms

    fixed = sorted(int(i) for c in atoms.constraints if isinstance(c, FixAtoms) for i in c.index)
    digest = hashlib.sha256()
    for part in (atoms.numbers, np.round(atoms.positions, 6), np.round(np.asarray(atoms.cell), 6), np.array(fixed)):
        digest.update(np.ascontiguousarray(part).tobytes())
    return f"{atoms.get_chemical_formula()} {digest.hexdigest()[:12]}"


def _label(mu):
    return "_".join(f"{s}{v:+.2f}" for s, v in sorted(mu.items()))


def learn(model, slab, spec, *, rounds, mu, out, data=None, test=None, restarts=4, test_restarts=2, snapshots=2, weight=4,
          paths=0, epochs=10, learning_rate=1e-4, workers=1, seed=0, removable=None, executor=None, progress=True, log=print):
    """``rounds`` rounds of active learning from the model file ``model`` on ``slab``
    (``ase.Atoms``) with the labeller ``spec``, at every Δμ of ``mu`` ({symbol: [Δμ, ...]},
    eV). ``data``: the files the model was trained on (default: those its provenance names,
    if they exist), fine-tuned on together with the new labels, each round's labels counted
    ``weight`` times, validated (early stopping) on a split of this round's labels and of the
    files the model was validated on, if recorded. ``test``: frames never trained on (default:
    the model's recorded test file), scored before and after each round and recorded in each round's model, so that a
    later ``learn`` from it scores it too. Fine-tuning uses the starting model's recorded training settings
    (:func:`training_settings`) with ``epochs`` epochs at most, ``learning_rate`` and
    ``workers`` processes. ``removable`` goes to :func:`refgc.optimize` (template atoms the
    search may remove, "top" or indices). ``paths``: frames labelled along the labeller's
    relaxation of each restart's end (0: none; the relaxations use ``workers`` processes). Returns the path of the model kept last
    (``out/model.npz``)."""
    lab = make_labeller(spec)  # a bad spec fails here, before anything is computed
    check_count(rounds, "rounds", minimum=1)
    check_count(restarts, "restarts", minimum=1)
    check_count(test_restarts, "test_restarts", minimum=1)
    check_count(epochs, "epochs", minimum=1)
    check_count(weight, "weight", minimum=1)
    check_count(paths, "paths", minimum=0)
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
    grid = mu_grid(mu)
    if not grid:
        raise ValueError("give at least one Δμ to learn at")
    start = load_model(model)
    if data is None:
        data = start.provenance.get("data") or []
        missing = [p for p in data if not Path(p).exists()]
        if not data or missing:
            raise ValueError(f"give --data: the files {model} was trained on "
                             f"({'not recorded' if not data else 'missing: ' + ', '.join(missing)})")
    recorded = start.provenance.get("validation_from") or []
    validate_on = [p for p in ([recorded] if isinstance(recorded, str) else recorded) if str(p) in map(str, data)]
    if test is None:
        test = start.provenance.get("test", {}).get("file")
        test = test if test and Path(test).exists() else None
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    state_path = out / "learn.json"
    recipe = dict(model=str(model), slab=fingerprint(slab), labeller=spec, rounds=rounds,
                  mu={s: list(v) for s, v in mu.items()},
                  data=[str(p) for p in data], test=str(test) if test else None, restarts=restarts, test_restarts=test_restarts, snapshots=snapshots,
                  weight=weight, epochs=epochs, learning_rate=learning_rate, seed=seed,
                  **({"removable": removable if isinstance(removable, str) else list(removable)} if removable else {}),
                  **({"paths": paths} if paths else {}))  # absent when 0: rounds recorded before it resume
    state = json.loads(state_path.read_text()) if state_path.exists() else {"recipe": recipe, "rounds": []}
    if {**state["recipe"], "rounds": rounds} != recipe:  # more rounds continue a run; other options do not
        differ = sorted(k for k in recipe if k != "rounds" and state["recipe"].get(k) != recipe[k])
        raise ValueError(f"{state_path} records another run (it differs in {', '.join(differ)}); "
                         "give another --out or the same options")
    state["recipe"] = recipe
    write_json(state_path, state)  # from the start: a half-done round is resumed only by the same options
    settings = training_settings(start.provenance, max_epochs=epochs, learning_rate=learning_rate, workers=workers)
    current = state["rounds"][-1]["kept_model"] if state["rounds"] else str(model)
    for r in range(len(state["rounds"]), rounds):
        folder = out / f"round-{r}"
        folder.mkdir(exist_ok=True)
        model_r = load_model(current)
        for kind, n, offset in (("visits", restarts, 0), ("heldout", test_restarts, 1)):
            frames, ends = [], []
            for mu_k in grid:
                result = optimize(slab, mu_k, model=model_r, restarts=n, seed=1000 * seed + 10 * r + offset, removable=removable,
                                  executor=executor, progress=progress, output=folder / f"{kind}-{_label(mu_k)}")
                tag = f"r{r}/{kind}/{_label(mu_k)}"
                frames += datagen.frames_from_runs(result.runs, snapshots, tag=tag)
                ends += datagen.ends_of_runs(result.runs, tag=tag)
            stats = datagen.label(frames, lab, str(folder / f"{kind}.extxyz"), progress=progress)
            if stats["failed"]:
                log(f"round {r}: the labeller failed on {len(stats['failed'])} {kind} frame(s), skipped")
            if paths:
                stats = datagen.relax_paths(ends, lab, str(folder / f"{kind}.extxyz"), keep=paths, workers=workers,
                                            progress=progress)
                if stats["failed"]:
                    log(f"round {r}: the labeller failed on {len(stats['failed'])} {kind} relaxation(s), skipped")
        candidate = folder / "model.npz"
        if not candidate.exists():
            visits = [str(out / f"round-{k}" / "visits.extxyz") for k in range(r + 1)]
            train_from_files([*data, *(visits * weight)], candidate, validation_from=[*validate_on, visits[-1]],
                             init=current, test=test,  # recorded in its provenance: the next learn finds it
                             checkpoint=folder / "checkpoint.npz", settings=settings, log=log if progress else None)
            (folder / "checkpoint.npz").unlink(missing_ok=True)
        heldout = read_frames(folder / "heldout.extxyz")
        new = load_model(candidate)
        before, after = metrics(model_r, heldout), metrics(new, heldout)
        kept = after["energy_mae_per_atom"] <= before["energy_mae_per_atom"]
        current = str(candidate) if kept else current
        row = dict(round=r, heldout_frames=len(heldout), before=before, after=after, kept=kept, kept_model=current)
        if test:
            test_frames = read_frames(test)
            row["test"] = dict(file=str(test), before=metrics(model_r, test_frames), after=metrics(new, test_frames))
        state["rounds"].append(row)
        write_json(state_path, state)
        log(f"round {r}: held-out visits' energy MAE {1e3 * before['energy_mae_per_atom']:.2f} -> "
            f"{1e3 * after['energy_mae_per_atom']:.2f} meV/atom, force MAE {before['force_mae']:.3f} -> "
            f"{after['force_mae']:.3f} eV/Å ({len(heldout)} frames): {'kept' if kept else 'not kept'}"
            + ("" if not test else f"; test frames {1e3 * row['test']['before']['energy_mae_per_atom']:.2f} -> "
               f"{1e3 * row['test']['after']['energy_mae_per_atom']:.2f} meV/atom, "
               f"{row['test']['before']['force_mae']:.3f} -> {row['test']['after']['force_mae']:.3f} eV/Å"))
    final = out / "model.npz"
    shutil.copyfile(current, final)
    return final

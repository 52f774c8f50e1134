r"""Training data for a grand canonical model: which structures, and how they are labelled.

A model that drives the grand canonical search (docs/method.md) must know the energy of

* **random insertions**: the search starts from candidates dropped at random above the
  slab (0–8 Cu and 0–8 O here), far from any minimum, with large forces;
* **relaxation paths** from those starts down to the local minima the search ends in, the
  structures whose ΔG is ranked (a few frames per path, every ``every``-th step and the
  last, plus rattled copies of the last one: thermal-like noise near the minima);
* **the references** of the Gibbs free energy: the bare template (``E_slab``), the
  dimer of each gas-phase species (:math:`\mu_O^{ref} = \tfrac12 E(O_2)`, with stretched
  and compressed bonds around it) and the bulk crystal of each other species
  (:math:`\mu_{Cu}^{ref} = E/\text{atom}`, several lattice constants, rattled), so that
  ΔG differences are learnt, not only total energies.

The labeller is any ASE calculator, made by a picklable ``calculator_factory()`` in each
worker. Work is a *plan*: a list of :class:`Task` s that is a pure function of the seed
and the arguments, each with a deterministic ``task_id``; every frame carries
``info["frame_id"]`` (``task_id/step``), ``info["task_id"]`` and ``info["config_type"]``.
Finished tasks are appended to one extended XYZ file and flushed, so a run can be stopped
at any time and restarted with the same plan: tasks whose id is already in the file are
skipped. :func:`label` appends single-point labels of any frames to the same kind of
file (active learning). Stored frames have no constraints and carry the *unconstrained*
forces, energies in eV, forces in eV/Å.
"""

import io
import lzma
import multiprocessing
import os
import sys
import time
import zlib
from dataclasses import dataclass, field

import numpy as np
import ase.io
from ase import Atoms
from ase.build import bulk
from ase.calculators.singlepoint import SinglePointCalculator
from ase.geometry import get_distances
from ase.io.extxyz import key_val_str_to_dict

from tqdm.auto import tqdm

from .contacts import pair_value, placement_distance
from .surface import top_layer_z
from .system import check_count
from .data import check_frames  # noqa: F401  (re-exported: one checker for labels)

#: Stable small integers per task kind: part of each task's random seed.
KIND_CODES = {"insertion": 1, "relax": 2, "template": 3, "gas": 4, "bulk": 5, "label": 6, "path": 7}


@dataclass
class Task:
    """One unit of labelling work; ``kind`` picks the recipe in :func:`run_task`."""
    task_id: str
    kind: str
    seed: tuple
    params: dict = field(default_factory=dict)
    atoms: Atoms = None
    cost: int = 1  # expected labeller calls, for the ETA only


def random_insertion(template, counts, rng, z_range=(0.8, 3.5), min_distances=None,
                     max_tries=200, max_restarts=100):
    """The template plus atoms placed at random above its top layer.

    ``counts`` maps species to how many to add (e.g. ``{"Cu": 3, "O": 5}``). Each atom is
    drawn uniformly in the cell's (a1, a2) plane, at a height ``top + U(z_range)``, and
    kept only if it is at least the pair's minimum distance from every atom already there
    (periodic images included: minimum image convention): ``min_distances[(A, B)]`` if
    given, else :func:`refgc.contacts.placement_distance` (the table of
    :data:`refgc.contacts.DISTANCES`, covalent radii for other pairs). Added atoms follow the template
    atoms, whose order and constraints are kept. An atom that finds no free spot in
    ``max_tries`` draws starts the whole placement again (up to ``max_restarts`` times).
    """
    z_top = top_layer_z(template)
    symbols = [s for s, n in counts.items() for _ in range(int(n))]
    for _ in range(max_restarts):  # sequential placement can jam: start again
        rng.shuffle(symbols)
        atoms = template.copy()
        for s in symbols:
            if not _place(atoms, s, z_top, z_range, min_distances, rng, max_tries):
                break
        else:
            return atoms
    raise RuntimeError(f"could not place {dict(counts)} above the template "
                       f"in {max_restarts} attempts")


def _place(atoms, s, z_top, z_range, min_distances, rng, max_tries):
    """Add one atom of species ``s`` at a random free spot; False if none was found."""
    distance = placement_distance if min_distances is None else lambda a, b: pair_value(min_distances, a, b)
    d_min = np.array([distance(s, t) for t in atoms.get_chemical_symbols()])
    state = rng.bit_generator.state
    done = 0
    for chunk in (4, 28, max_tries):  # tries are drawn in chunks and each chunk checked in one call
        points = np.empty((max(0, min(chunk, max_tries) - done), 3))
        for k in range(len(points)):
            f1, f2 = rng.random(2)
            points[k] = f1 * atoms.cell[0] + f2 * atoms.cell[1]
            points[k, 2] = z_top + rng.uniform(*z_range)
        if not len(points):
            break
        _, d = get_distances(points, atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
        free = np.flatnonzero(np.all(d >= d_min, axis=1))
        if len(free):
            rng.bit_generator.state = state  # leave the generator where trying one point at a time would
            for _ in range(done + free[0] + 1):
                rng.random(2)
                rng.uniform(*z_range)
            atoms += Atoms(s, positions=[points[free[0]]])
            return True
        done += len(points)
    return False


def make_plan(template, seed=0, n_insertion=300, n_relax=280, n_template=60, n_gas=40,
              n_bulk=80, max_added=None, relax_steps=80, relax_every=20, fmax=0.1,
              n_rattle_final=1, rattle_range=(0.05, 0.15), lattice=None, bonds=None,
              z_range=(0.8, 3.5), optimizer="BFGS", removable=()):
    """A deterministic, interleaved list of tasks for a template slab and the species of
    ``max_added``.

    Kinds: ``insertion`` (one single point of a random insertion), ``relax`` (a random
    insertion relaxed for at most ``relax_steps`` steps to ``fmax``: frames at steps 0,
    ``relax_every``, ... and the last, then ``n_rattle_final`` rattled copies of the
    last), ``template`` (task 0 relaxes the bare template, the others rattle it), and the
    references of ΔG for each species: ``gas`` for the elements of
    :data:`refgc.labeller.GASES` (H, N, O: ``n_gas`` dimers each, task 0 at the bond of
    ``bonds`` or GASES, the others at 0.78–1.36 times it) and ``bulk`` for the others
    (``n_bulk`` crystals each, ASE's reference structure: task 0 as built with the lattice
    constant of ``lattice`` or ASE's, the others 2×2×2 repeats strained by ±3 % and
    rattled).

    ``max_added`` maps species to the largest number added (default 8 Cu, 8 O); each
    insertion draws each count uniformly from 0..max. Tasks are interleaved by their
    relative position within their kind, so any prefix of the plan is a balanced data set.
    ``removable``: template indices; each insertion and relaxation then also removes a
    uniformly drawn number of them (0 to all), so that a model for
    ``optimize(..., removable=...)`` learns vacancies (the kinds are named
    ``insertion-vac`` and ``relax-vac``: another plan, other task ids).
    """
    from .labeller import GASES

    max_added = {"Cu": 8, "O": 8} if max_added is None else max_added
    common = dict(template=template, max_added=max_added, z_range=z_range,
                  rattle_range=rattle_range, removable=tuple(int(i) for i in removable))
    relaxing = dict(common, steps=relax_steps, every=relax_every, fmax=fmax, optimizer=optimizer)
    vac = "-vac" if len(removable) else ""
    kinds = [(f"insertion{vac}", "insertion", n_insertion, common, 1),
             (f"relax{vac}", "relax", n_relax, dict(relaxing, n_rattle=n_rattle_final), relax_steps + 1 + n_rattle_final),
             ("template", "template", n_template, dict(relaxing, n_rattle=0), 1)]
    for symbol in sorted(max_added):
        if symbol in GASES:
            bond = (bonds or {}).get(symbol, GASES[symbol])
            kinds.append((f"gas-{symbol}", "gas", n_gas, dict(symbol=symbol, bond=bond), 1))
        else:
            a = (lattice or {}).get(symbol)
            kinds.append((f"bulk-{symbol}", "bulk", n_bulk, dict(symbol=symbol, a=a, rattle_range=rattle_range), 1))
    keyed = []
    for order, (name, kind, n, params, cost) in enumerate(kinds):
        for i in range(n):
            c = relax_steps + 1 if (kind == "template" and i == 0) else cost
            task = Task(f"s{seed}/{name}-{i:04d}", kind, (seed, KIND_CODES[kind], order, i), params, cost=c)
            keyed.append((i / n, order, task))
    return [t for _, _, t in sorted(keyed, key=lambda k: k[:2])]


def _frame(atoms, config_type, frame_id, task_id, **info):
    """A labelled copy of ``atoms`` (whose calculator has just been evaluated)."""
    energy = atoms.get_potential_energy()
    forces = atoms.get_forces(apply_constraint=False)
    out = atoms.copy()
    out.set_constraint()
    out.info.update(info, config_type=config_type, frame_id=frame_id, task_id=task_id)
    out.calc = SinglePointCalculator(out, energy=energy, forces=forces)
    return out


def _relax_frames(atoms, calc, task, p, rng, config_type):
    """Frames along a relaxation: step 0, every ``p['every']``-th step, the last."""
    from ase import optimize
    atoms.calc = calc
    frames = []
    opt = getattr(optimize, p["optimizer"])(atoms, logfile=None)

    def keep():
        if opt.nsteps % p["every"] == 0:
            ct = config_type if opt.nsteps == 0 else "relax"
            frames.append(_frame(atoms, ct, f"{task.task_id}/{opt.nsteps}", task.task_id,
                                 step=opt.nsteps))

    opt.attach(keep, interval=1)
    opt.run(fmax=p["fmax"], steps=p["steps"])
    if frames[-1].info["step"] != opt.nsteps:
        frames.append(_frame(atoms, "relax", f"{task.task_id}/{opt.nsteps}", task.task_id,
                             step=opt.nsteps))
    for k in range(p["n_rattle"]):
        frames.append(_rattled(atoms, calc, task, p, rng, k))
    return frames


def _path_frames(atoms, calc, task, p):
    """``p['keep']`` frames of the labeller's relaxation of ``atoms`` (``FixAtoms`` kept;
    every step recorded by :func:`_relax_frames`), evenly spaced by step, its start left out
    and its end kept: the end alone if the start is already relaxed."""
    steps = _relax_frames(atoms, calc, task, p, None, "gc_path")
    for frame in steps:
        frame.info["config_type"] = "gc_path"
    picks = np.linspace(0, len(steps) - 1, p["keep"] + 1).round().astype(int)[1:] if len(steps) > 1 else [0]
    return [steps[k] for k in sorted(set(int(k) for k in picks))]


def _rattled(atoms, calc, task, p, rng, k):
    r = atoms.copy()
    sigma = rng.uniform(*p["rattle_range"])
    r.positions += rng.normal(0.0, sigma, r.positions.shape)
    r.calc = calc
    return _frame(r, "rattle", f"{task.task_id}/rattle{k}", task.task_id, rattle=sigma)


def run_task(task, calc):
    """Label one task with the ASE calculator ``calc``; returns the list of frames."""
    rng = np.random.default_rng(task.seed)
    p, i = task.params, task.seed[-1]
    if task.kind in ("insertion", "relax"):
        counts = {s: rng.integers(0, n + 1) for s, n in p["max_added"].items()}
        atoms = random_insertion(p["template"], counts, rng, z_range=p["z_range"])
        if p.get("removable"):  # drawn after the insertion: plans without removable atoms are unchanged
            gone = rng.choice(p["removable"], rng.integers(0, len(p["removable"]) + 1), replace=False)
            del atoms[[int(i) for i in gone]]
        if task.kind == "relax":
            return _relax_frames(atoms, calc, task, p, rng, "insertion")
        atoms.calc = calc
        return [_frame(atoms, "insertion", f"{task.task_id}/0", task.task_id)]
    if task.kind == "template":
        atoms = p["template"].copy()
        if i == 0:
            return _relax_frames(atoms, calc, task, p, rng, "template")
        sigma = rng.uniform(*p["rattle_range"])
        atoms.positions += rng.normal(0.0, sigma, atoms.positions.shape)
        atoms.calc = calc
        return [_frame(atoms, "template", f"{task.task_id}/0", task.task_id, rattle=sigma)]
    if task.kind == "gas":
        bond = p["bond"] if i == 0 else p["bond"] * rng.uniform(0.78, 1.36)
        atoms = Atoms(p["symbol"] * 2, positions=[[0, 0, 0], [0, 0, bond]], cell=[12.0] * 3, pbc=False)
        atoms.center()
        atoms.calc = calc
        return [_frame(atoms, "gas", f"{task.task_id}/0", task.task_id, bond=bond)]
    if task.kind == "bulk":
        atoms = bulk(p["symbol"], a=p["a"]) if p["a"] else bulk(p["symbol"])
        if i > 0:
            atoms.set_cell(atoms.cell[:] * rng.uniform(0.97, 1.03), scale_atoms=True)
            atoms = atoms.repeat((2, 2, 2))
            sigma = rng.uniform(0.0, p["rattle_range"][1])
            atoms.positions += rng.normal(0.0, sigma, atoms.positions.shape)
        else:
            sigma = 0.0
        atoms.calc = calc
        return [_frame(atoms, "bulk", f"{task.task_id}/0", task.task_id, rattle=sigma)]
    if task.kind == "path":
        return _path_frames(task.atoms.copy(), calc, task, p)
    if task.kind == "label":
        atoms = task.atoms.copy()
        atoms.calc = calc
        ct = task.atoms.info.get("config_type", p.get("config_type", "label"))
        return [_frame(atoms, ct, task.task_id, task.task_id)]
    raise ValueError(f"unknown task kind {task.kind!r}")


# ---------------------------------------------------------------- resumable execution

def read_done(path):
    """``(task_ids, frame_ids, n_frames)`` already in an extended XYZ file.

    Only the header lines are parsed (fast). A frame cut short by a killed job is
    removed from the end of the file, so the file always holds whole tasks' frames.
    """
    task_ids, frame_ids, n = set(), set(), 0
    if not os.path.exists(path):
        return task_ids, frame_ids, 0
    good_end = 0
    with open(path, "rb") as f:
        while True:
            head = f.readline()
            if not head.strip():
                break
            try:
                comment = f.readline()
                lines = [f.readline() for _ in range(int(head))]
                if not lines or not lines[-1].endswith(b"\n"):
                    break
                info = key_val_str_to_dict(comment.decode())
            except ValueError:  # a cut header or comment line
                break
            task_ids.add(str(info.get("task_id")))
            frame_ids.add(str(info.get("frame_id")))
            n, good_end = n + 1, f.tell()
    if good_end < os.path.getsize(path):
        print(f"[datagen] {path}: dropping a truncated frame at byte {good_end}",
              file=sys.stderr)
        with open(path, "r+b") as f:
            f.truncate(good_end)
    return task_ids, frame_ids, n


_WORKER = {}  # per process: the labeller and its call counter


def _init_worker(calculator_factory, torch_threads):
    os.environ.setdefault("OMP_NUM_THREADS", str(torch_threads))
    calc = calculator_factory()
    torch = sys.modules.get("torch")  # only if the labeller brought it in
    if torch is not None and torch_threads:
        torch.set_num_threads(torch_threads)
    calls = [0]
    calculate = calc.calculate

    def counted(*args, **kwargs):
        calls[0] += 1
        return calculate(*args, **kwargs)

    calc.calculate = counted
    _WORKER.update(calc=calc, calls=calls)


def _work(task):
    """``(task, frames, labeller calls, seconds, error)``: a task on which the labeller
    raises gives no frames and its error, and the plan goes on."""
    before, t0 = _WORKER["calls"][0], time.perf_counter()
    try:
        frames, error = run_task(task, _WORKER["calc"]), None
    except Exception as err:  # the labeller's (SCF failures, unknown elements, ...): name it, skip it
        frames, error = [], f"{type(err).__name__}: {err}"
    return task, frames, _WORKER["calls"][0] - before, time.perf_counter() - t0, error


def run_plan(tasks, calculator_factory, out_path, workers=1, torch_threads=1,
             checkpoint=None, checkpoint_every=100, progress="auto"):
    """Run the tasks not yet in ``out_path``, appending each task's frames when done.

    ``calculator_factory()`` (a picklable top-level function) makes the labeller, once per
    worker process; ``workers > 1`` uses that many spawned processes, each with
    ``torch_threads`` torch threads. ``checkpoint(out_path)`` is called after every
    ``checkpoint_every`` new frames and at the end. A task on which the labeller raises is
    named on stderr, left out of the file (a later run tries it again) and listed in the
    result's ``failed`` ({task_id: error}). Returns a dict of counts and timings.
    """
    done_tasks, _, n_before = read_done(out_path)
    todo = [t for t in tasks if t.task_id not in done_tasks]
    # weighed by expected labeller calls (Task.cost): relaxations that converge early make
    # the remaining time pessimistic
    bar = tqdm(total=sum(t.cost for t in todo), unit="call", desc="datagen", disable=progress in (False, None, "none"),
               mininterval=1.0 if sys.stderr.isatty() else 60.0)
    if not bar.disable:
        bar.write(f"{len(tasks) - len(todo)} of {len(tasks)} tasks already in {out_path} ({n_before} frames); "
                  f"{len(todo)} to run", file=sys.stderr)
    t0, counts, failed = time.time(), dict(tasks=0, frames=0, calls=0, busy=0.0), {}
    since_checkpoint = 0
    if workers <= 1:
        _init_worker(calculator_factory, torch_threads)
        results, pool = map(_work, todo), None
    else:
        pool = multiprocessing.get_context("spawn").Pool(
            workers, initializer=_init_worker, initargs=(calculator_factory, torch_threads))
        results = pool.imap(_work, todo)  # ordered: the file follows the plan
    try:
        with open(out_path, "a") as f:
            for task, frames, n_calls, seconds, error in results:
                if error is not None:
                    failed[task.task_id] = error
                    print(f"datagen: the labeller failed on task {task.task_id} ({error}); skipped", file=sys.stderr)
                    bar.update(task.cost)
                    continue
                buf = io.StringIO()
                ase.io.write(buf, frames, format="extxyz")
                f.write(buf.getvalue())
                f.flush()
                os.fsync(f.fileno())
                counts["tasks"] += 1
                counts["frames"] += len(frames)
                counts["calls"] += n_calls
                counts["busy"] += seconds
                bar.update(task.cost)
                bar.set_postfix(frames=counts["frames"], refresh=False)
                since_checkpoint += len(frames)
                if checkpoint is not None and since_checkpoint >= checkpoint_every:
                    checkpoint(out_path)
                    since_checkpoint = 0
    finally:
        if pool is not None:
            pool.terminate()
        bar.close()
    if checkpoint is not None and since_checkpoint:
        checkpoint(out_path)
    return dict(tasks=len(todo) - len(failed), frames=counts["frames"], calls=counts["calls"],
                seconds_per_call=counts["busy"] / max(counts["calls"], 1),
                wall=time.time() - t0, frames_before=n_before, failed=failed)


def frame_key(atoms):
    """A content hash of a structure (numbers, positions, cell, pbc) as a frame id."""
    data = b"".join(np.ascontiguousarray(a).tobytes() for a in (
        atoms.numbers, np.round(atoms.positions, 8), np.round(atoms.cell[:], 8), atoms.pbc))
    return f"label/{zlib.crc32(data):08x}{len(atoms):04d}"


def label(frames, calculator_factory, out_path, config_type="label", **kwargs):
    """Single-point label ``frames`` and append them to ``out_path`` (active learning).

    A frame's id is its ``info["frame_id"]`` if it has one, else a hash of its structure;
    frames whose id is already in the file are skipped. Keyword arguments go to
    :func:`run_plan` (``workers``, ``torch_threads``, ``checkpoint``, ``progress``).
    """
    tasks = []
    for atoms in frames:
        fid = str(atoms.info.get("frame_id", frame_key(atoms)))
        tasks.append(Task(fid, "label", (0, KIND_CODES["label"], 0),
                          {"config_type": config_type}, atoms=atoms))
    return run_plan(tasks, calculator_factory, out_path, **kwargs)


def relax_paths(structures, calculator_factory, out_path, keep=3, fmax=0.05, steps=200, **kwargs):
    """Relax each of ``structures`` with the labeller and append ``keep`` labelled frames
    of each relaxation to ``out_path`` (active learning).

    Where the model's minimum and the labeller's differ, the model's error at its own
    geometry is a force error along the path between them, and the path is the data that
    closes it. The frames are spaced evenly by step, the start left out (it is the final
    structure :func:`frames_from_runs` already labels) and the end kept. A structure's
    ``FixAtoms`` hold (:func:`ends_of_runs` keeps the template's). Frame ids are
    ``{the structure's frame_id}/path/{step}``; a relaxation already in the file is not
    run again. Keyword arguments go to :func:`run_plan`."""
    keep = check_count(keep, "keep", minimum=1)
    tasks = [Task(f"{atoms.info.get('frame_id', frame_key(atoms))}/path", "path", (0, KIND_CODES["path"], 0),
                  {"keep": keep, "fmax": fmax, "steps": steps, "optimizer": "BFGS", "every": 1, "n_rattle": 0},
                  atoms=atoms, cost=steps // 4)
             for atoms in structures]
    return run_plan(tasks, calculator_factory, out_path, **kwargs)


def ends_of_runs(runs, tag="gc"):
    """The final structure of every run, the template's ``FixAtoms`` kept, with the frame
    id :func:`frames_from_runs` gives it less its ``/final``: the starts of
    :func:`relax_paths`."""
    ends = []
    for run in runs:
        end = run.structure.copy()
        end.info = {"frame_id": f"{tag}/{run.key or run.restart}", "config_type": "gc_final"}
        ends.append(end)
    return ends


def frames_from_runs(runs, snapshots=2, tag="gc"):
    """Structures a grand canonical search visited, as frames to label (active learning).

    For every run: its final structure, and ``snapshots`` frames of its fractional stage
    (evenly spaced, the first excluded), each *discretised* like the search does (atoms
    with q ≥ ½ kept at q = 1, the rest removed). ``info["frame_id"]`` is
    ``{tag}/{run key or restart}/{k}``, so labelling the same runs twice adds nothing.
    """
    frames = []
    for run in runs:
        name = f"{tag}/{run.key or run.restart}"
        final = run.structure.copy()
        final.set_constraint()
        final.info = {"frame_id": f"{name}/final", "config_type": "gc_final"}
        frames.append(final)
        picks = np.linspace(0, len(run.trajectory) - 1, snapshots + 1).round().astype(int)[1:] if snapshots else []
        for k in sorted(set(picks.tolist())):
            x, q = run.trajectory[k]
            keep = q >= 0.5
            snap = Atoms([s for s, kept in zip(run.symbols, keep) if kept], positions=x[keep],
                         cell=run.structure.cell, pbc=run.structure.pbc)
            snap.wrap()
            snap.info = {"frame_id": f"{name}/{k}", "config_type": "gc_snapshot"}
            frames.append(snap)
    return frames


def compress_xz(path, dest=None):
    """Write ``path`` xz-compressed to ``dest`` (default ``path + '.xz'``) atomically."""
    path = os.fspath(path)
    dest = path + ".xz" if dest is None else os.fspath(dest)
    with open(path, "rb") as f:
        data = f.read()
    tmp = dest + ".tmp"
    with open(tmp, "wb") as f:
        f.write(lzma.compress(data, preset=9))
    os.replace(tmp, dest)
    return dest

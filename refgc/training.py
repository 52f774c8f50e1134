"""Training an existence SchNet on frames labelled with energies and forces.

Frames come from any ASE calculator (``refgc.datagen`` makes them; extended XYZ keeps
them). Training uses every atom at q = 1, where the model is plain SchNet, and fits

    L(θ) = w_E · mean_frames ((E_θ − E_ref) / n_atoms)² + w_F · mean_components (F_θ − F_ref)²

(or, with ``huber_energy``/``huber_force`` set, Huber terms that are squared errors up to δ
and grow linearly beyond, so the fit follows mean absolute errors more than outliers),
with F_θ = −∂E_θ/∂x, so the gradient ∂L/∂θ differentiates through a gradient: autograd
does it because every primitive's VJP is itself differentiable (:mod:`refgc.scatter`).
Several frames form one batch, a single disjoint graph whose atom energies are summed
per frame with a scatter-add. The batch keeps the frames' half/reversed pair layout (all
unordered pairs, then their reverses), so the filter network, most of a step, runs once per
unordered pair (:func:`refgc.schnet.atom_embeddings`).

Before the first step the per-species offsets are fitted by least squares to the
energies (E_f ≈ Σ_s n_fs offset_s), and every species' read-out scale is set to the RMS
force component, so the network starts from the right energy scale and learns only the
residual. Adam with a reduce-on-plateau learning rate, early stopping on the validation
loss, the best parameters kept. With ``ema_decay`` > 0 an exponential moving average of
the parameters after every step is what is validated and kept: Adam's last iterate jumps
around the minimum, the average sits nearer its centre. Validation frames are chosen by
whole trajectories (``info["task_id"]``) where frames carry one, so near-duplicates do not
leak across the split. Deterministic for a given seed; resumable from a checkpoint after an
interruption.

With ``workers`` > 1 every batch is split into that many parts whose loss gradients are
computed in forked worker processes and summed (each part's squared errors divided by the
whole batch's frame and force-component counts, so the sum is the batch's loss). The result
equals the one-process gradient up to rounding (about 1e-15 relative), not bit for bit.
"""

import hashlib
import json
import multiprocessing
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import autograd.numpy as np
import numpy as onp
from autograd import make_vjp, value_and_grad

from . import schnet
from .graph import Graph, build_graph
from .model import Model, init_model
from .scatter import Segments, scatter_add
from .system import species_indices

__all__ = ["TrainSettings", "train", "predict", "metrics", "split", "read_frames", "check_frames"]


@dataclass(frozen=True)
class TrainSettings:
    energy_weight: float = 100.0  # on (eV/atom)²
    force_weight: float = 1.0  # on (eV/Å)²
    learning_rate: float = 1e-3
    batch_size: int = 8  # frames per step
    max_epochs: int = 500
    lr_factor: float = 0.5  # reduce-on-plateau
    lr_patience: int = 10  # epochs without improvement before the rate drops
    min_learning_rate: float = 1e-5
    patience: int = 30  # epochs without improvement before training stops
    validation_fraction: float = 0.1
    seed: int = 0
    ema_decay: float = 0.0  # 0: off; else validate and keep an exponential moving average of the parameters
    huber_energy: float = 0.0  # 0: squared error; else Huber with this δ, eV/atom
    huber_force: float = 0.0  # 0: squared error; else Huber with this δ, eV/Å
    workers: int = 1  # processes sharing each batch's gradient (Linux/macOS: fork)

    def __post_init__(self):
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"TrainSettings.ema_decay must be in [0, 1), got {self.ema_decay}")
        for name in ("huber_energy", "huber_force"):
            if not getattr(self, name) >= 0.0:
                raise ValueError(f"TrainSettings.{name} must be >= 0 (0: squared error), got {getattr(self, name)}")
        if not (isinstance(self.workers, int) and self.workers >= 1):
            raise ValueError(f"TrainSettings.workers must be an integer >= 1, got {self.workers!r}")


@dataclass(frozen=True)
class Frame:
    """One labelled configuration as arrays, its graph built once."""

    species: onp.ndarray  # (n,)
    positions: onp.ndarray  # (n, 3)
    graph: Graph
    energy: float
    forces: onp.ndarray  # (n, 3)


@dataclass(frozen=True)
class Batch:
    species: onp.ndarray  # (N,)
    positions: onp.ndarray  # (N, 3)
    q: onp.ndarray  # (N,) ones
    graph: Graph  # disjoint union of the frames' graphs
    frames: Segments  # atom -> frame
    n_atoms: onp.ndarray  # (B,)
    energies: onp.ndarray  # (B,)
    forces: onp.ndarray  # (N, 3)


def check_frames(frames, species):
    """The number of frames; ``ValueError`` naming the first frame that cannot be trained on."""
    if len(frames) == 0:
        raise ValueError("empty dataset: no frames")
    for k, atoms in enumerate(frames):
        name = f"frame {k}" + (f" (frame_id={atoms.info['frame_id']!r})" if "frame_id" in atoms.info else "")
        results = atoms.calc.results if atoms.calc is not None else {}
        if "energy" not in results or "forces" not in results:
            raise ValueError(f"{name} has no energy or no forces")
        unknown = sorted(set(atoms.get_chemical_symbols()) - set(species))
        if unknown:
            raise ValueError(f"{name} has species {unknown} that the model does not list ({', '.join(species)})")
        forces = onp.asarray(results["forces"], dtype=float)
        if forces.shape != (len(atoms), 3):
            raise ValueError(f"{name} has forces of shape {forces.shape}, expected ({len(atoms)}, 3)")
        if not (onp.isfinite(results["energy"]) and onp.all(onp.isfinite(forces))):
            raise ValueError(f"{name} has a NaN or infinite energy or force")
        if not onp.all(onp.isfinite(atoms.positions)):
            raise ValueError(f"{name} has NaN or infinite positions")
    return len(frames)


def read_frames(*paths):
    """All frames of one or more extended XYZ files (``.xz``/``.gz``/``.bz2`` compressed too).

    A compressed file is decompressed into memory first: ASE's reader seeks back to each
    frame, and every backward seek in a compressed stream decompresses it again from the
    start: quadratic, 98 s for the 1,169 frames of ``train2.extxyz.xz`` against 0.4 s."""
    import bz2
    import gzip
    import io
    import lzma

    from ase.io import read

    openers = {".xz": lzma.open, ".gz": gzip.open, ".bz2": bz2.open}
    frames = []
    for path in map(str, paths):
        opener = openers.get(Path(path).suffix)
        if opener is None:
            frames += read(path, index=":")
            continue
        stem = Path(path).stem
        if not stem.endswith((".xyz", ".extxyz")):
            raise ValueError(f"{path}: expected an extended XYZ file (name.extxyz{Path(path).suffix})")
        with opener(path, "rt") as f:
            frames += read(io.StringIO(f.read()), index=":", format="extxyz")
    return frames


def drop_large_forces(frames, max_force):
    """(kept, dropped): frames whose largest force component is at most ``max_force`` eV/Å, and
    the rest. Collapsed structures that an optimizer finds on an immature model carry forces of
    hundreds of eV/Å; in a squared-error loss a handful of them would outweigh everything else."""
    kept, dropped = [], []
    for atoms in frames:
        (kept if onp.abs(atoms.get_forces()).max() <= max_force else dropped).append(atoms)
    return kept, dropped


def prepare(frames, config):
    """Labelled ``ase.Atoms`` -> :class:`Frame` arrays with their graphs (q = 1)."""
    check_frames(frames, config.species)
    out = []
    for atoms in frames:
        positions = onp.array(atoms.positions, dtype=float)
        out.append(Frame(
            species=species_indices(atoms.get_chemical_symbols(), config.species),
            positions=positions,
            graph=build_graph(positions, atoms.cell[:], atoms.pbc, config.cutoff),
            energy=float(atoms.calc.results["energy"]),
            forces=onp.asarray(atoms.calc.results["forces"], dtype=float),
        ))  # fmt: skip
    return out


def collate(frames):
    """Frames -> one :class:`Batch` (a disjoint graph)."""
    starts = onp.cumsum([0] + [len(f.species) for f in frames])
    n = int(starts[-1])
    # With every frame in the half/reversed layout, the batch keeps it: every frame's unordered
    # pairs, then their reverses (filters computed once per unordered pair; each atom's pairs
    # keep their order). Otherwise every frame's pairs as they are.
    half = all(f.graph.n_half is not None for f in frames)
    take = [slice(0, f.graph.n_half) if half else slice(None) for f in frames]
    graph = (Graph.from_half if half else Graph.from_pairs)(
        onp.concatenate([f.graph.i[t] + s for f, t, s in zip(frames, take, starts)]),
        onp.concatenate([f.graph.j[t] + s for f, t, s in zip(frames, take, starts)]),
        onp.concatenate([f.graph.offsets[t] for f, t in zip(frames, take)]),
        n,
    )
    return Batch(
        species=onp.concatenate([f.species for f in frames]),
        positions=onp.concatenate([f.positions for f in frames]),
        q=onp.ones(n),
        graph=graph,
        frames=Segments(onp.repeat(onp.arange(len(frames)), onp.diff(starts)), len(frames)),
        n_atoms=onp.diff(starts).astype(float),
        energies=onp.array([f.energy for f in frames]),
        forces=onp.concatenate([f.forces for f in frames]),
    )


def energies_and_forces(params, config, batch):
    """Per-frame energies (B,) and forces (N, 3), differentiable in ``params``."""

    def frame_energies(positions):
        e = schnet.atom_energies(params, config, batch.species, positions, batch.q, batch.graph)
        return scatter_add(e, batch.frames)  # (B,)

    vjp, E = make_vjp(frame_energies)(batch.positions)
    return E, -vjp(onp.ones(len(batch.n_atoms)))  # disjoint frames: ∂ΣE/∂x gives each frame's forces


def huber(r, delta):
    """r² where |r| ≤ δ, 2δ|r| − δ² beyond (squared error for δ = 0): the same value and slope
    at |r| = δ, so the loss weights keep their meaning, and errors far out pull only linearly."""
    if not delta:
        return r**2
    a = np.abs(r)
    return np.where(a <= delta, r**2, 2.0 * delta * a - delta**2)


def loss(params, config, batch, settings):
    return partial_loss(params, config, batch, settings, len(batch.n_atoms), batch.forces.size)


def partial_loss(params, config, batch, settings, n_frames, n_components):
    """A part of a batch's :func:`loss`: its terms summed and divided by the whole batch's
    frame and force-component counts, so that the parts of a batch add up to its loss (with
    the batch's own counts, the loss itself: sum/n is what the mean computes)."""
    E, F = energies_and_forces(params, config, batch)
    e_err = (E - batch.energies) / batch.n_atoms
    return (settings.energy_weight * (np.sum(huber(e_err, settings.huber_energy)) / n_frames)
            + settings.force_weight * (np.sum(huber(F - batch.forces, settings.huber_force)) / n_components))


_WORKER = {}  # set in the parent before the pool forks: the training frames, config, settings


def _worker_part(args):
    params, indices, n_frames, n_components = args
    batch = collate([_WORKER["frames"][m] for m in indices])
    return value_and_grad(partial_loss)(params, _WORKER["config"], batch, _WORKER["settings"], n_frames, n_components)


class _ParallelGradient:
    """value_and_grad of a batch's loss, the batch split over ``workers`` forked processes."""

    def __init__(self, frames, config, settings):
        try:
            context = multiprocessing.get_context("fork")
        except ValueError as err:
            raise ValueError(f"TrainSettings.workers = {settings.workers} needs the 'fork' start method, "
                             "which this platform lacks: use workers = 1") from err
        from .parallel import single_threaded  # one BLAS thread per worker: no oversubscription

        _WORKER.update(frames=frames, config=config, settings=settings)
        self.frames, self.workers = frames, settings.workers
        self.pool = context.Pool(settings.workers, initializer=single_threaded)

    def __call__(self, params, indices):
        n_frames = len(indices)
        n_components = 3 * sum(len(self.frames[m].species) for m in indices)
        parts = [p for p in onp.array_split(onp.asarray(indices), self.workers) if len(p)]
        results = self.pool.map(_worker_part, [(params, p, n_frames, n_components) for p in parts])
        value = sum(v for v, _ in results)
        return value, {k: sum(g[k] for _, g in results) for k in params}

    def close(self):
        self.pool.terminate()
        self.pool.join()
        _WORKER.clear()


def predict(model, frames, batch_size=16):
    """Model energies (list of floats) and forces (list of (n, 3)) for labelled frames."""
    prepared = frames if frames and isinstance(frames[0], Frame) else prepare(frames, model.config)
    energies, forces = [], []
    for k in range(0, len(prepared), batch_size):
        batch = collate(prepared[k : k + batch_size])
        E, F = energies_and_forces(model.params, model.config, batch)
        energies += list(E)
        forces += onp.split(F, onp.cumsum(batch.n_atoms[:-1]).astype(int))
    return energies, forces


def metrics(model, frames, batch_size=16):
    """Energy MAE/RMSE per atom (eV/atom) and force MAE/RMSE per component (eV/Å)."""
    prepared = frames if frames and isinstance(frames[0], Frame) else prepare(frames, model.config)
    E, F = predict(model, prepared, batch_size)
    n = onp.array([len(f.species) for f in prepared])
    e_err = (onp.array(E) - [f.energy for f in prepared]) / n
    f_err = onp.concatenate([(Fk - f.forces).ravel() for Fk, f in zip(F, prepared)])
    return {
        "energy_mae_per_atom": float(onp.mean(onp.abs(e_err))),
        "energy_rmse_per_atom": float(onp.sqrt(onp.mean(e_err**2))),
        "force_mae": float(onp.mean(onp.abs(f_err))),
        "force_rmse": float(onp.sqrt(onp.mean(f_err**2))),
        "n_frames": len(prepared),
    }


def fit_offsets(frames, n_species):
    """Least-squares per-species energies: E_f ≈ Σ_s n_fs offset_s."""
    counts = onp.array([onp.bincount(f.species, minlength=n_species) for f in frames], dtype=float)
    offsets, *_ = onp.linalg.lstsq(counts, [f.energy for f in frames], rcond=None)
    return offsets


def split(frames, fraction, seed):
    """Indices (train, validation), whole ``task_id`` groups kept on one side."""
    groups = {}
    for k, atoms in enumerate(frames):
        groups.setdefault(atoms.info.get("task_id", f"frame {k}"), []).append(k)
    keys = sorted(groups, key=str)
    onp.random.default_rng(seed).shuffle(keys)
    val, target = [], fraction * len(frames)
    for key in keys:
        if len(val) >= target:
            break
        val += groups[key]
    val_set = set(val)
    return [k for k in range(len(frames)) if k not in val_set], sorted(val)


class Adam:
    """Adam on a dict of arrays (Kingma & Ba), the state kept as plain arrays."""

    def __init__(self, params, beta1=0.9, beta2=0.999, eps=1e-8):
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.m = {k: onp.zeros_like(v) for k, v in params.items()}
        self.v = {k: onp.zeros_like(v) for k, v in params.items()}
        self.t = 0

    def step(self, params, grads, lr):
        self.t += 1
        c1, c2 = 1 - self.beta1**self.t, 1 - self.beta2**self.t
        for k, g in grads.items():
            self.m[k] = self.beta1 * self.m[k] + (1 - self.beta1) * g
            self.v[k] = self.beta2 * self.v[k] + (1 - self.beta2) * g * g
            params[k] = params[k] - lr * (self.m[k] / c1) / (onp.sqrt(self.v[k] / c2) + self.eps)


def _save_checkpoint(path, params, best, adam, state, ema=None):
    arrays = {f"params/{k}": v for k, v in params.items()}
    arrays |= {f"best/{k}": v for k, v in best.items()}
    arrays |= {f"ema/{k}": v for k, v in (ema or {}).items()}
    arrays |= {f"adam_m/{k}": v for k, v in adam.m.items()} | {f"adam_v/{k}": v for k, v in adam.v.items()}
    tmp = Path(str(path) + ".tmp")
    with open(tmp, "wb") as f:
        onp.savez(f, state=onp.array(json.dumps({**state, "adam_t": adam.t})), **arrays)
    tmp.replace(path)


def _load_checkpoint(path, adam):
    with onp.load(path, allow_pickle=False) as npz:
        state = json.loads(str(npz["state"]))
        take = lambda prefix: {k[len(prefix):]: npz[k] for k in npz.files if k.startswith(prefix)}  # noqa: E731
        params, best, adam.m, adam.v = take("params/"), take("best/"), take("adam_m/"), take("adam_v/")
        ema = take("ema/") or None
    adam.t = state.pop("adam_t")
    return params, best, state, ema


def _fingerprint(config, settings, train_set, val_set, init_params=None):
    """A hash of what a checkpoint belongs to: config, settings, the frames' labels and the
    starting parameters when fine-tuning. The stopping rules (max_epochs, patience) are left
    out: a run may be extended, and so is ``workers``: a run may change its processes."""
    kept = {k: v for k, v in asdict(settings).items() if k not in ("max_epochs", "patience", "workers")}
    for key in ("ema_decay", "huber_energy", "huber_force"):
        if not kept[key]:
            del kept[key]  # off: so checkpoints from before the option existed still resume
    h = hashlib.sha256(json.dumps([config.to_dict(), kept], sort_keys=True).encode())
    if init_params is not None:
        from .modelfile import parameters_digest

        h.update(parameters_digest(init_params).encode())
    for f in (*train_set, None, *val_set):
        h.update(b"|" if f is None else onp.r_[f.energy, f.positions.ravel()].tobytes())
    return h.hexdigest()


def train(frames, config, *, settings=TrainSettings(), validation=None, mu_ref=None, provenance=None,
          checkpoint=None, log=print, init=None):
    """Fit a model with ``config`` to labelled ``frames``; returns the best :class:`Model`.

    ``validation``: frames for early stopping; by default a ``settings.validation_fraction``
    split of ``frames`` by trajectory. ``checkpoint``: a path written after every epoch;
    if it exists, training resumes from it. ``log``: a function taking one line, or None.
    ``init``: a :class:`Model` with the same config to start from (fine-tuning, e.g. with
    other loss weights or more data), instead of fresh parameters and fitted offsets.
    """
    log = log or (lambda line: None)
    if validation is None:
        train_idx, val_idx = split(frames, settings.validation_fraction, settings.seed)
        frames, validation = [frames[k] for k in train_idx], [frames[k] for k in val_idx]
    train_set, val_set = prepare(frames, config), prepare(validation, config) if validation else []
    if init is not None:
        if init.config != config:
            raise ValueError(f"init model's config differs from the training config: {init.config} vs {config}")
        params = {k: onp.array(v) for k, v in init.params.items()}
    else:
        params = dict(init_model(config, seed=settings.seed).params)
        params["offset"] = fit_offsets(train_set, len(config.species))
        rms_force = float(onp.sqrt(onp.mean(onp.concatenate([f.forces.ravel() for f in train_set]) ** 2)))
        params["scale"] = onp.full(len(config.species), max(rms_force, 1e-3))
    adam = Adam(params)
    fingerprint = _fingerprint(config, settings, train_set, val_set, params if init is not None else None)
    state = dict(epoch=0, lr=settings.learning_rate, best_loss=onp.inf, bad_epochs=0, plateau=0, history=[],
                 fingerprint=fingerprint)
    best = dict(params)
    ema = {k: v.copy() for k, v in params.items()} if settings.ema_decay else None
    if checkpoint is not None and Path(checkpoint).exists():
        params, best, state, ema = _load_checkpoint(checkpoint, adam)
        if state.get("fingerprint") != fingerprint:
            raise ValueError(f"checkpoint {checkpoint} was written for other data, config or settings: "
                             "delete it to start again")
        log(f"resumed from {checkpoint} at epoch {state['epoch']}")
    loss_and_gradient = value_and_grad(loss)  # one pass for both: 27 % less time per step than loss, then grad
    parallel = _ParallelGradient(train_set, config, settings) if settings.workers > 1 else None
    val_batches = [collate(val_set[k : k + 16]) for k in range(0, len(val_set), 16)]
    log(f"training on {len(train_set)} frames, validating on {len(val_set)}; offsets {params['offset'].round(4)}")
    try:
        while state["epoch"] < settings.max_epochs and state["bad_epochs"] < settings.patience:
            t0 = time.perf_counter()
            order = onp.random.default_rng([settings.seed, state["epoch"]]).permutation(len(train_set))
            train_loss = 0.0
            for k in range(0, len(order), settings.batch_size):
                indices = order[k : k + settings.batch_size]
                if parallel is None:
                    batch_loss, gradient = loss_and_gradient(params, config, collate([train_set[m] for m in indices]), settings)
                else:
                    batch_loss, gradient = parallel(params, indices)
                train_loss += float(batch_loss) * len(indices)
                adam.step(params, gradient, state["lr"])
                if ema is not None:
                    for key, value in params.items():
                        ema[key] = settings.ema_decay * ema[key] + (1.0 - settings.ema_decay) * value
            train_loss /= len(order)
            current = params if ema is None else ema
            val_loss = (sum(float(loss(current, config, b, settings)) * len(b.n_atoms) for b in val_batches)
                        / len(val_set)) if val_set else train_loss
            state["epoch"] += 1
            if val_loss < state["best_loss"]:
                state.update(best_loss=val_loss, bad_epochs=0, plateau=0)
                best = {k: v.copy() for k, v in current.items()}
            else:
                state["bad_epochs"] += 1
                state["plateau"] += 1
                if state["plateau"] >= settings.lr_patience:
                    state.update(lr=max(state["lr"] * settings.lr_factor, settings.min_learning_rate), plateau=0)
            seconds = time.perf_counter() - t0
            state["history"].append(dict(epoch=state["epoch"], train_loss=train_loss, val_loss=val_loss, lr=state["lr"], seconds=seconds))
            log(f"epoch {state['epoch']:4d}  train {train_loss:.3e}  val {val_loss:.3e}  lr {state['lr']:.1e}  {seconds:.1f} s")
            if checkpoint is not None:
                _save_checkpoint(checkpoint, params, best, adam, state, ema)
    finally:
        if parallel is not None:
            parallel.close()
    result = Model(config, best, dict(mu_ref or {}), dict(provenance or {}))
    history = state["history"]
    result.provenance["training"] = {
        "settings": asdict(settings),
        "n_train": len(train_set),
        "n_validation": len(val_set),
        "epochs": len(history),
        "seconds_total": round(sum(h["seconds"] for h in history), 1),
        "seconds_per_epoch": round(sum(h["seconds"] for h in history) / max(len(history), 1), 2),
        "validation": metrics(result, val_set) if val_set else None,
        "loss_history_columns": ["epoch", "train_loss", "val_loss", "lr"],
        "loss_history": [[h["epoch"], h["train_loss"], h["val_loss"], h["lr"]] for h in history],
    }
    return result

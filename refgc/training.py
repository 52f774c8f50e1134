"""Training an existence SchNet on labelled frames (:mod:`refgc.data`): the loss and its loop.

Training uses every atom at q = 1, where the model is plain SchNet, and fits

    L(θ) = w_E · mean_frames ((E_θ − E_ref) / n_atoms)² + w_F · mean_components (F_θ − F_ref)²

(or, with ``huber_energy``/``huber_force`` set, Huber terms that are squared errors up to δ
and grow linearly beyond, so the fit follows mean absolute errors more than outliers),
with F_θ = −∂E_θ/∂x, so the gradient ∂L/∂θ differentiates through a gradient: autograd
does it because every primitive's VJP is itself differentiable (:mod:`refgc.scatter`).
Several frames form one batch (:func:`refgc.data.collate`), a single disjoint graph whose
atom energies are summed per frame with a scatter-add.

Before the first step the per-species offsets are fitted by least squares to the
energies (E_f ≈ Σ_s n_fs offset_s), and every species' read-out scale is set to the RMS
force component, so the network starts from the right energy scale and learns only the
residual. Adam with a reduce-on-plateau learning rate, early stopping on the validation
loss, the best parameters kept. With ``ema_decay`` > 0 an exponential moving average of
the parameters after every step is what is validated and kept: Adam's last iterate jumps
around the minimum, the average sits nearer its centre. Validation frames are chosen by
whole trajectories (:func:`refgc.data.split`). Deterministic for a given seed; resumable
from a checkpoint after an interruption.

With ``workers`` > 1 every batch is split into that many parts whose loss gradients are
computed in forked worker processes and summed (each part's squared errors divided by the
whole batch's frame and force-component counts, so the sum is the batch's loss). The result
equals the one-process gradient up to rounding (about 1e-15 relative), not bit for bit.

:func:`train` takes frames and a :class:`ModelConfig`; :func:`train_from_files` is what
``refgc train`` runs: it reads the files, builds the configuration (or loads the model to
fine-tune), trains, scores a test file and writes the model with its provenance.
"""

import hashlib
import json
import multiprocessing
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import autograd.numpy as anp
import numpy as np
from autograd import make_vjp, value_and_grad

from . import schnet
from .data import Frame, collate, drop_inside_floor, drop_large_forces, prepare, read_frames, split
from .memory import keep_freed_memory
from .model import Model, ModelConfig, init_model
from .modelfile import load_model, parameters_digest, save_model
from .scatter import scatter_add

__all__ = ["TrainSettings", "train", "train_from_files", "predict", "metrics"]


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


def energies_and_forces(params, config, batch):
    """Per-frame energies (B,) and forces (N, 3), differentiable in ``params``."""

    def frame_energies(positions):
        e = schnet.atom_energies(params, config, batch.species, positions, batch.q, batch.graph)
        return scatter_add(e, batch.frames)  # (B,)

    vjp, E = make_vjp(frame_energies)(batch.positions)
    return E, -vjp(np.ones(len(batch.n_atoms)))  # disjoint frames: ∂ΣE/∂x gives each frame's forces


def huber(r, delta):
    """r² where |r| ≤ δ, 2δ|r| − δ² beyond (squared error for δ = 0): the same value and slope
    at |r| = δ, so the loss weights keep their meaning, and errors far out pull only linearly."""
    if not delta:
        return r**2
    a = anp.abs(r)
    return anp.where(a <= delta, r**2, 2.0 * delta * a - delta**2)


def loss(params, config, batch, settings):
    return partial_loss(params, config, batch, settings, len(batch.n_atoms), batch.forces.size)


def partial_loss(params, config, batch, settings, n_frames, n_components):
    """A part of a batch's :func:`loss`: its terms summed and divided by the whole batch's
    frame and force-component counts, so that the parts of a batch add up to its loss (with
    the batch's own counts, the loss itself: sum/n is what the mean computes)."""
    E, F = energies_and_forces(params, config, batch)
    e_err = (E - batch.energies) / batch.n_atoms
    return (settings.energy_weight * (anp.sum(huber(e_err, settings.huber_energy)) / n_frames)
            + settings.force_weight * (anp.sum(huber(F - batch.forces, settings.huber_force)) / n_components))


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
        parts = [p for p in np.array_split(np.asarray(indices), self.workers) if len(p)]
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
        forces += np.split(F, np.cumsum(batch.n_atoms[:-1]).astype(int))
    return energies, forces


def metrics(model, frames, batch_size=16):
    """Energy MAE/RMSE per atom (eV/atom) and force MAE/RMSE per component (eV/Å)."""
    prepared = frames if frames and isinstance(frames[0], Frame) else prepare(frames, model.config)
    E, F = predict(model, prepared, batch_size)
    n = np.array([len(f.species) for f in prepared])
    e_err = (np.array(E) - [f.energy for f in prepared]) / n
    f_err = np.concatenate([(Fk - f.forces).ravel() for Fk, f in zip(F, prepared)])
    return {
        "energy_mae_per_atom": float(np.mean(np.abs(e_err))),
        "energy_rmse_per_atom": float(np.sqrt(np.mean(e_err**2))),
        "force_mae": float(np.mean(np.abs(f_err))),
        "force_rmse": float(np.sqrt(np.mean(f_err**2))),
        "n_frames": len(prepared),
    }


def fit_offsets(frames, n_species):
    """Least-squares per-species energies: E_f ≈ Σ_s n_fs offset_s."""
    counts = np.array([np.bincount(f.species, minlength=n_species) for f in frames], dtype=float)
    offsets, *_ = np.linalg.lstsq(counts, [f.energy for f in frames], rcond=None)
    return offsets


class Adam:
    """Adam on a dict of arrays (Kingma & Ba), the state kept as plain arrays."""

    def __init__(self, params, beta1=0.9, beta2=0.999, eps=1e-8):
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.t = 0

    def step(self, params, grads, lr):
        self.t += 1
        c1, c2 = 1 - self.beta1**self.t, 1 - self.beta2**self.t
        for k, g in grads.items():
            self.m[k] = self.beta1 * self.m[k] + (1 - self.beta1) * g
            self.v[k] = self.beta2 * self.v[k] + (1 - self.beta2) * g * g
            params[k] = params[k] - lr * (self.m[k] / c1) / (np.sqrt(self.v[k] / c2) + self.eps)


def _save_checkpoint(path, params, best, adam, state, ema=None):
    arrays = {f"params/{k}": v for k, v in params.items()}
    arrays |= {f"best/{k}": v for k, v in best.items()}
    arrays |= {f"ema/{k}": v for k, v in (ema or {}).items()}
    arrays |= {f"adam_m/{k}": v for k, v in adam.m.items()} | {f"adam_v/{k}": v for k, v in adam.v.items()}
    tmp = Path(str(path) + ".tmp")
    with open(tmp, "wb") as f:
        np.savez(f, state=np.array(json.dumps({**state, "adam_t": adam.t})), **arrays)
    tmp.replace(path)


def _load_checkpoint(path, adam):
    with np.load(path, allow_pickle=False) as npz:
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
        h.update(parameters_digest(init_params).encode())
    for f in (*train_set, None, *val_set):
        h.update(b"|" if f is None else np.r_[f.energy, f.positions.ravel()].tobytes())
    return h.hexdigest()


def train(frames, config, *, settings=TrainSettings(), validation=None, mu_ref=None, provenance=None,
          checkpoint=None, log=print, init=None, bulk_phases=None):
    """Fit a model with ``config`` to labelled ``frames``; returns the best :class:`Model`.

    ``validation``: frames for early stopping; by default a ``settings.validation_fraction``
    split of ``frames`` by trajectory. ``checkpoint``: a path written after every epoch;
    if it exists, training resumes from it. ``log``: a function taking one line, or None.
    ``init``: a :class:`Model` with the same config to start from (fine-tuning, e.g. with
    other loss weights or more data), instead of fresh parameters and fitted offsets.
    """
    keep_freed_memory()  # measured 1.23x per batch, and forked workers inherit it
    log = log or (lambda line: None)
    if validation is None:
        train_idx, val_idx = split(frames, settings.validation_fraction, settings.seed)
        frames, validation = [frames[k] for k in train_idx], [frames[k] for k in val_idx]
    train_set, val_set = prepare(frames, config), prepare(validation, config) if validation else []
    if init is not None:
        if init.config != config:
            raise ValueError(f"init model's config differs from the training config: {init.config} vs {config}")
        params = {k: np.array(v) for k, v in init.params.items()}
    else:
        params = dict(init_model(config, seed=settings.seed).params)
        params["offset"] = fit_offsets(train_set, len(config.species))
        rms_force = float(np.sqrt(np.mean(np.concatenate([f.forces.ravel() for f in train_set]) ** 2)))
        params["scale"] = np.full(len(config.species), max(rms_force, 1e-3))
    adam = Adam(params)
    fingerprint = _fingerprint(config, settings, train_set, val_set, params if init is not None else None)
    state = dict(epoch=0, lr=settings.learning_rate, best_loss=np.inf, bad_epochs=0, plateau=0, history=[],
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
            order = np.random.default_rng([settings.seed, state["epoch"]]).permutation(len(train_set))
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
    result = Model(config, best, dict(mu_ref or {}), dict(provenance or {}), dict(bulk_phases or {}))
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


#: The default architecture of :func:`train_from_files`, keyed as ``refgc train``'s options.
#: ``filters`` None: as many as ``features``.
ARCHITECTURE = {"cutoff": 6.0, "features": 64, "filters": None, "rbf": 20, "interactions": 3}
PRIOR = ("prior_strength", "prior_radius_scale", "floor_radius_scale")  # ModelConfig fields; fine-tuning may change them


def _split_validation_from(paths, sources, settings):
    """(training, validation) frames when the validation split comes from some data files
    only: when fine-tuning on appended data, the older files were trained on by the ``init``
    model and would make the validation loss measure forgetting, not generalisation."""
    same = []
    for source in sources:
        found = [path for path in paths if Path(path).resolve() == Path(source).resolve()]
        if not found:
            raise ValueError(f"--validation-from {source} is not one of the DATA files {paths}")
        same += found
    fraction = settings.validation_fraction
    training, validation = [], []
    for i, path in enumerate(paths):
        frames = read_frames(path)
        if path in same:
            keep, val = split(frames, fraction, settings.seed)
            if not keep or not val:
                raise ValueError(f"--validation-from {path}: a fraction of {fraction} of its {len(frames)} frames "
                                 "leaves nothing to train on or to validate with")
            if path not in paths[:i]:  # a file named k times is trained on k times, validated on once
                validation += [frames[k] for k in val]
            frames = [frames[k] for k in keep]
        training += frames
    return training, validation


def _model_to_start_from(init, species, architecture, prior, seed):
    """(model, grown_from): the ``init`` model file, grown to ``architecture["interactions"]``
    blocks if more (new blocks start at zero output) and widened to ``architecture["features"]``
    and ``["filters"]`` if more (:meth:`Model.with_width`: the same function at the start),
    with the ``prior`` changed (it has no trained parameters); nothing else of its
    architecture may change."""
    grow = architecture.pop("interactions", None)
    features, filters = architecture.pop("features", None), architecture.pop("filters", None)
    if architecture or species:
        given = ", ".join("--" + k for k in architecture) or "--species"
        raise ValueError(f"--init uses the architecture of {init}; drop {given}")
    model, grown_from = load_model(init), None
    if grow is not None and grow != model.config.n_interactions:
        if grow < model.config.n_interactions:
            raise ValueError(f"--interactions {grow}: {init} has {model.config.n_interactions} blocks, "
                             "and fine-tuning can only add blocks")
        grown_from = model.config.n_interactions
        model = model.with_interactions(grow, seed=seed)
    if features is not None or filters is not None:
        features = features or model.config.n_features
        filters = filters or (features if features != model.config.n_features else model.config.n_filters)
        if features < model.config.n_features or filters < model.config.n_filters:
            raise ValueError(f"--features {features} --filters {filters}: {init} has {model.config.n_features} features "
                             f"and {model.config.n_filters} filters, and fine-tuning can only widen it")
        if (features, filters) != (model.config.n_features, model.config.n_filters):
            grown_from = {"grown_from_interactions": grown_from} if grown_from is not None else {}
            grown_from["widened_from"] = {"features": model.config.n_features, "filters": model.config.n_filters}
            model = model.with_width(features, filters, seed=seed)
    return model.with_prior(prior.get("prior_strength"), prior.get("prior_radius_scale"),
                            prior.get("floor_radius_scale")), grown_from


def train_from_files(data, out=None, *, validation=None, validation_from=None, test=None, references=None,
                     checkpoint=None, init=None, species=None, architecture=None, prior=None, max_force=None,
                     settings=TrainSettings(), log=print):
    """Train on extended XYZ files, as ``refgc train`` does; returns the :class:`Model`,
    written to ``out`` (.npz) when given.

    Data: ``data`` is one path or several (``.xz``/``.gz``/``.bz2`` too). Validation frames
    come from the file ``validation``, or from ``validation_from``, one or a list of the ``data`` files,
    split by trajectory (``settings.validation_fraction``; for fine-tuning on appended data,
    the older files having been trained on), or by default from a split of all ``data``.
    A file named k times in ``data`` is trained on k times, to weight it; as
    ``validation_from`` its validation frames are taken once and never trained on.
    ``max_force`` (eV/Å) leaves out, and logs, frames with a larger force component.
    ``test``: held-out frames, scored after training and stored in the provenance.

    The model: ``init``, a model file to fine-tune, keeps its architecture, except that
    ``architecture["interactions"]`` may add blocks, ``["features"]`` and ``["filters"]`` may
    widen it, and ``prior`` may change the repulsive
    prior. Otherwise the config is built from ``species`` (default: those in the data),
    ``architecture`` (keys of :data:`ARCHITECTURE`, which has the defaults) and ``prior``
    (keys of :data:`PRIOR`; default :class:`ModelConfig`'s). None values count as not given.
    ``references``: a JSON file whose ``mu_ref`` mapping ({symbol: eV}) the model stores,
    the whole file going into its provenance; otherwise ``init``'s mu_ref, or none.

    ``checkpoint``, ``settings`` and ``log`` are :func:`train`'s. The provenance records the
    files, the frame counts, the fine-tuned model's provenance, the references and the date.
    Bad input raises a one-line ``ValueError`` (a missing file ``FileNotFoundError``).
    """
    from . import __version__  # here: the package imports this module before it sets its version

    log = log or (lambda line: None)
    paths = [data] if isinstance(data, (str, Path)) else list(data)
    architecture = {k: v for k, v in (architecture or {}).items() if v is not None}
    prior = {k: v for k, v in (prior or {}).items() if v is not None}
    for what, given, known in (("architecture", architecture, ARCHITECTURE), ("prior", prior, PRIOR)):
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise ValueError(f"unknown {what} options {unknown}: expected some of {', '.join(known)}")
    if validation and validation_from:
        raise ValueError("give --validation or --validation-from, not both")
    sources = [validation_from] if isinstance(validation_from, (str, Path)) else list(validation_from or [])
    if sources:
        frames, validation_frames = _split_validation_from(paths, sources, settings)
    else:
        frames, validation_frames = read_frames(*paths), None
    dropped = []
    if max_force is not None:
        frames, dropped = drop_large_forces(frames, max_force)
        for atoms in dropped:
            log(f"left out frame {atoms.info.get('frame_id', '?')}: a force component of "
                f"{np.abs(atoms.get_forces()).max():.1f} eV/Å > --max-force {max_force}")
    if validation:
        validation_frames = read_frames(validation)
    start, grown_from = None, None
    if init:
        start, grown_from = _model_to_start_from(init, species, architecture, prior, settings.seed)
        config = start.config
    else:
        arch = {**ARCHITECTURE, **architecture}
        config = ModelConfig(
            species=tuple(species) if species else tuple(sorted({s for a in frames for s in a.get_chemical_symbols()})),
            cutoff=arch["cutoff"], n_features=arch["features"], n_filters=arch["filters"] or arch["features"],
            n_rbf=arch["rbf"], n_interactions=arch["interactions"], **prior,
        )  # fmt: skip
    inside = []
    if config.floor_radius_scale:  # below its floor the network cannot follow a label: only the prior acts there
        frames, inside = drop_inside_floor(frames, config)
        inside_validation = []
        if validation_frames is not None:
            validation_frames, inside_validation = drop_inside_floor(validation_frames, config)
        for which, left in (("", inside), ("validation ", inside_validation)):
            for atoms, (a, b, d, f) in left:
                log(f"left out {which}frame {atoms.info.get('frame_id', '?')}: {a}–{b} at {d:.2f} Å, inside the "
                    f"network's floor of {f:.2f} Å")
    mu_ref = dict(start.mu_ref) if start is not None else {}
    bulk_phases = dict(start.bulk_phases) if start is not None else {}
    provenance = {"data": [str(p) for p in paths], "n_frames": len(frames), "refgc_version": __version__}
    if sources:
        provenance["validation_from"] = str(sources[0]) if len(sources) == 1 else [str(p) for p in sources]
    if max_force is not None:
        provenance |= {"max_force": max_force, "n_left_out": len(dropped)}
    if config.floor_radius_scale:
        provenance["n_inside_floor"] = len(inside)
    if start is not None:
        provenance["fine_tuned_from"] = {"file": str(init), "provenance": start.provenance}
        if isinstance(grown_from, dict):  # widened (and perhaps grown)
            provenance["fine_tuned_from"].update(grown_from)
        elif grown_from is not None:
            provenance["fine_tuned_from"]["grown_from_interactions"] = grown_from
    if references:
        with open(references) as f:
            refs = json.load(f)
        if not isinstance(refs, dict) or not isinstance(refs.get("mu_ref"), dict):
            raise ValueError(f"{references}: expected a JSON object with a 'mu_ref' mapping")
        mu_ref = {s: float(v) for s, v in refs["mu_ref"].items() if s in config.species}
        bulk_phases = {name: phase for name, phase in refs.get("bulk_phases", {}).items()
                       if set(phase.get("formula", {})) <= set(config.species)}
        provenance["references"] = refs
    model = train(frames, config, settings=settings, validation=validation_frames, mu_ref=mu_ref,
                  provenance=provenance, checkpoint=checkpoint, log=log, init=start, bulk_phases=bulk_phases)
    if test:
        model.provenance["test"] = {"file": str(test), **metrics(model, read_frames(test))}
    model.provenance["date"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if out is not None:
        save_model(model, out)
    return model

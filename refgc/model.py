"""The model: its configuration, its parameters, and how they are initialised.

A :class:`Model` is plain data: a frozen :class:`ModelConfig`, a dict of NumPy arrays
(the parameters, named as below), the reference chemical potentials ``mu_ref`` and a
free-form ``provenance`` dict. The equations that use the parameters are in
:mod:`refgc.schnet`.

Parameter names and shapes (A = n_features, F = n_filters, K = n_rbf, S = species).
Dense layers compute ``y = x @ weight + bias``, so a weight is stored (in, out), the
transpose of PyTorch's ``nn.Linear`` layout:

    embedding                     (S, A)      h_i⁰ = embedding[species_i]
    interactions.{t}.filter.0     (K, F) (F)  first filter layer, ssp after it
    interactions.{t}.filter.1     (F, F) (F)  second filter layer
    interactions.{t}.in2f         (A, F)      no bias
    interactions.{t}.f2out.0      (F, A) (A)  ssp after it
    interactions.{t}.f2out.1      (A, A) (A)
    readout.0                     (A, A/2) (A/2)  read-out activation after it
    readout.1                     (A/2, 1) (1)
    offset, scale                 (S,)        ε_i = scale[s_i] · MLP(h_i) + offset[s_i]

(``.weight`` and ``.bias`` are appended to the Dense layer names.)
"""

from dataclasses import asdict, dataclass, field, replace

import numpy as np
from ase.data import atomic_numbers, covalent_radii
from autograd import value_and_grad

from . import backward, schnet
from .arrays import backend_namespace, is_numpy, to_device, to_host
from .memory import keep_freed_memory

__all__ = ["ModelConfig", "Model", "init_model", "parameter_shapes"]

READOUT_ACTIVATIONS = ("ssp", "silu", "tanh")


@dataclass(frozen=True)
class ModelConfig:
    """Hyper-parameters of an existence SchNet.

    The repulsive prior is ``φ_ab(d) = prior_strength · (1 − d / r_ab)³`` for ``d < r_ab``
    and zero beyond, with ``r_ab = prior_radius_scale · (R_a + R_b)`` and ``R`` ASE's
    covalent radii (Cu–Cu 1.58 Å, Cu–O 1.19 Å, O–O 0.79 Å at the default scale 0.6),
    shorter than any bond a training set should contain (O₂: 1.24 Å).

    The network's distance floor (``floor_radius_scale`` s_f > 0) keeps the network from
    extrapolating to distances shorter than it was trained on: it sees each pair at
    ``f_ab + w · softplus((d − f_ab) / w)`` (:func:`refgc.schnet.network_distances`, w =
    0.02 Å), with ``f_ab = s_f · (R_a + R_b)``, which is d itself above the floor and tends to
    f_ab below it. Inside the floor only the prior changes the energy, so a fitted network
    cannot open a hole at short range there. 0 (the default) turns the floor off.
    """

    species: tuple
    cutoff: float = 6.0
    n_features: int = 64
    n_filters: int = 64
    n_rbf: int = 20
    n_interactions: int = 3
    prior_strength: float = 5.0
    prior_radius_scale: float = 0.6
    readout_activation: str = "ssp"
    floor_radius_scale: float = 0.0

    def __post_init__(self):
        species = (self.species,) if isinstance(self.species, str) else tuple(self.species)
        object.__setattr__(self, "species", species)
        if not species:
            raise ValueError("ModelConfig.species is empty: name at least one element")
        unknown = [s for s in species if s not in atomic_numbers or s == "X"]
        if unknown:
            raise ValueError(f"ModelConfig.species: unknown chemical symbol(s) {unknown}")
        if len(set(species)) != len(species):
            raise ValueError(f"ModelConfig.species has duplicates: {species}")
        for name in ("n_features", "n_filters", "n_interactions"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1):
                raise ValueError(f"ModelConfig.{name} must be a positive integer")
        if not (isinstance(self.n_rbf, int) and self.n_rbf >= 2):
            raise ValueError("ModelConfig.n_rbf must be an integer >= 2")
        if not (np.isfinite(self.cutoff) and self.cutoff > 0):
            raise ValueError(f"ModelConfig.cutoff must be positive and finite, got {self.cutoff}")
        if not (np.isfinite(self.prior_strength) and self.prior_strength >= 0):
            raise ValueError("ModelConfig.prior_strength must be finite and >= 0")
        if not (self.prior_radius_scale > 0 and self.prior_radii().max() < self.cutoff):
            raise ValueError("ModelConfig.prior_radius_scale must be > 0 and give radii < cutoff")
        if not (self.floor_radius_scale >= 0 and self.floor_radii().max() < self.cutoff):
            raise ValueError("ModelConfig.floor_radius_scale must be >= 0 and give floors < cutoff")
        if self.readout_activation not in READOUT_ACTIVATIONS:
            raise ValueError(
                f"ModelConfig.readout_activation {self.readout_activation!r} is not one of "
                f"{READOUT_ACTIVATIONS}"
            )

    @property
    def n_hidden(self):
        """Width of the read-out's hidden layer, A/2 as in SchNetPack's ``Atomwise``."""
        return max(1, self.n_features // 2)

    def _radius_sums(self):
        """(S, S) sums R_a + R_b of ASE's covalent radii, Å."""
        radii = np.array([covalent_radii[atomic_numbers[s]] for s in self.species])
        return radii[:, None] + radii[None, :]

    def prior_radii(self):
        """(S, S) radii r_ab within which the repulsive prior acts, Å."""
        return self.prior_radius_scale * self._radius_sums()

    def floor_radii(self):
        """(S, S) floors f_ab below which the network sees no shorter distance, Å (0: no floor)."""
        return self.floor_radius_scale * self._radius_sums()

    def to_dict(self):
        """The fields as JSON-ready data; ``floor_radius_scale`` only when a floor is set, so
        that a model without one is written as before it existed."""
        d = asdict(self)
        d["species"] = list(self.species)
        if not self.floor_radius_scale:
            del d["floor_radius_scale"]
        return d


def parameter_shapes(config):
    """The name → shape map every model with ``config`` has, in a fixed order."""
    A, F, K, S, H = config.n_features, config.n_filters, config.n_rbf, len(config.species), config.n_hidden
    shapes = {"embedding": (S, A)}
    for t in range(config.n_interactions):
        p = f"interactions.{t}."
        shapes.update({
            p + "filter.0.weight": (K, F), p + "filter.0.bias": (F,),
            p + "filter.1.weight": (F, F), p + "filter.1.bias": (F,),
            p + "in2f.weight": (A, F),
            p + "f2out.0.weight": (F, A), p + "f2out.0.bias": (A,),
            p + "f2out.1.weight": (A, A), p + "f2out.1.bias": (A,),
        })  # fmt: skip
    shapes.update({
        "readout.0.weight": (A, H), "readout.0.bias": (H,),
        "readout.1.weight": (H, 1), "readout.1.bias": (1,),
        "offset": (S,), "scale": (S,),
    })  # fmt: skip
    return shapes


@dataclass
class Model:
    """An existence SchNet: configuration, parameters and thermodynamic references.

    ``mu_ref`` maps a species to its reference chemical potential in eV (for example
    ½E(O₂) and E(bulk Cu)/atom from the labeller that trained the model); species
    without one cannot be candidates in a Gibbs free energy. ``bulk_phases`` holds the
    labeller's bulk compounds of the model's species ({name: {"formula", "formation_energy",
    ...}}, eV per formula unit, see :mod:`refgc.bulk`), which bound a phase diagram.
    """

    config: ModelConfig
    params: dict
    mu_ref: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)
    bulk_phases: dict = field(default_factory=dict)

    def __post_init__(self):
        expected = parameter_shapes(self.config)
        missing = sorted(set(expected) - set(self.params))
        extra = sorted(set(self.params) - set(expected))
        if missing or extra:
            raise ValueError(f"model parameters do not match the config: missing {missing}, unexpected {extra}")
        for name, shape in expected.items():
            value = np.asarray(self.params[name])
            if value.shape != shape:
                raise ValueError(f"parameter {name!r} has shape {value.shape}, expected {shape}")
            if not np.all(np.isfinite(value)):
                raise ValueError(f"parameter {name!r} contains NaN or inf")
        unknown = sorted(set(self.mu_ref) - set(self.config.species))
        if unknown:
            raise ValueError(f"mu_ref names species the model does not know: {unknown}")
        from .system import check_real  # the one home of the number check

        for s, value in self.mu_ref.items():
            check_real(value, f"mu_ref[{s!r}]")
        from .bulk import check_bulk_phases

        check_bulk_phases(self.bulk_phases, self.config.species)

    @property
    def species(self):
        return self.config.species

    @property
    def cutoff(self):
        return self.config.cutoff

    def params_on(self, xp):
        """The parameters as arrays of namespace ``xp`` on its device, copied once and kept
        (for the last few models and namespaces; the model itself stays plain NumPy data)."""
        return _params_on(self.params, xp)

    def with_prior(self, strength=None, radius_scale=None, floor_radius_scale=None):
        """The same model with another repulsive prior (A in eV, the radius scale s) or distance
        floor (the scale s_f, 0 for none); None keeps the current value. Neither has trained
        parameters, so nothing else changes (a new floor changes what the network computes
        for pairs near or below it: fine-tune after setting one)."""
        changes = {k: v for k, v in (("prior_strength", strength), ("prior_radius_scale", radius_scale),
                                     ("floor_radius_scale", floor_radius_scale)) if v is not None}
        return replace(self, config=replace(self.config, **changes))

    def with_interactions(self, n, seed=0):
        """The same model grown to ``n`` interaction blocks, for fine-tuning with more capacity.

        The new blocks come after the old ones with fresh parameters (as :func:`init_model`)
        except their last layer, ``f2out.1``, which is zero: a block adds its output to the
        features, so the grown model computes exactly what this one does until training
        moves it."""
        if n < self.config.n_interactions:
            raise ValueError(f"cannot shrink a model from {self.config.n_interactions} to {n} interaction blocks")
        grown = init_model(replace(self.config, n_interactions=n), seed=seed)
        params = {**grown.params, **self.params}
        for t in range(self.config.n_interactions, n):
            for name in ("weight", "bias"):
                params[f"interactions.{t}.f2out.1.{name}"] = np.zeros_like(grown.params[f"interactions.{t}.f2out.1.{name}"])
        return replace(self, config=grown.config, params=params)

    def with_width(self, n_features, n_filters=None, seed=0):
        """The same model widened to ``n_features`` features and ``n_filters`` filters (default:
        as many as features), for fine-tuning with more capacity.

        Every old weight keeps its place; the new rows and columns start as :func:`init_model`
        draws them, except those that would feed a new unit into an old one and those that
        write the new features (``f2out.1``'s new columns, the embedding's new columns), which
        are zero, as are the new biases. The new features therefore start at zero and the new
        units reach no old one: the widened model computes what this one does (to rounding)
        until training moves it, and the zero weights have non-zero gradients."""
        A, F = self.config.n_features, self.config.n_filters
        n_filters = n_features if n_filters is None else n_filters
        if n_features < A or n_filters < F:
            raise ValueError(f"cannot narrow a model from {A} features, {F} filters to {n_features}, {n_filters}")
        wide = init_model(replace(self.config, n_features=n_features, n_filters=n_filters), seed=seed)
        params = {}
        for name, value in wide.params.items():
            old = self.params[name]
            new = value.copy()
            if name.endswith(".bias") or name == "embedding":
                new[..., old.shape[-1]:] = 0.0
            new[tuple(slice(0, n) for n in old.shape)] = old
            params[name] = new
        half = A // 2
        params["embedding"][:, A:] = 0.0
        for t in range(self.config.n_interactions):
            block = f"interactions.{t}"
            params[f"{block}.filter.1.weight"][F:, :F] = 0.0  # new filter units reach no old filter
            params[f"{block}.f2out.0.weight"][F:, :A] = 0.0  # new filters reach no old unit
            params[f"{block}.f2out.1.weight"][A:, :A] = 0.0  # new units reach no old feature
            params[f"{block}.f2out.1.weight"][:, A:] = 0.0  # and nothing writes the new features yet
        params["readout.1.weight"][half:, :] = 0.0  # new read-out units reach no energy
        return replace(self, config=wide.config, params=params)

    def evaluate(self, species, positions, q, graph, gradients=True, method="backward", dtype="float64",
                 backend="numpy"):
        """E, or (E, ∂E/∂x, ∂E/∂q): the energy-model interface of refgc.

        ``species`` indexes ``self.species``; ``graph`` holds every pair within the
        cutoff. ``method``: ``"backward"`` (default, the hand-written backward pass of
        :mod:`refgc.backward`) or ``"autograd"`` (:mod:`refgc.schnet` differentiated by
        autograd, the reference; the tests hold the two equal to 1e-10). ``dtype="float32"``
        runs the backward pass in single precision (results still float64). ``backend``:
        ``"numpy"`` (default), ``"cupy"`` (a GPU) or an array-API namespace module (see
        :mod:`refgc.arrays`); the inputs and results stay NumPy arrays on the host. Any
        object with ``species``, ``mu_ref``, ``cutoff`` and this method (``backend`` may be
        left out) can stand in for the SchNet in :func:`refgc.energy_and_gradients`,
        :func:`refgc.gibbs_free_energy` and the optimizer.
        """

        keep_freed_memory()
        xp, params = backend_namespace(backend), self.params
        if method not in ("backward", "autograd"):
            raise ValueError(f"method must be 'backward' or 'autograd', got {method!r}")
        if not is_numpy(xp):
            if method == "autograd":
                raise ValueError("the autograd reference path runs on NumPy only: use backend='numpy'")
            params = self.params_on(xp)
            species, positions, q, graph = to_device(xp, species), to_device(xp, positions), to_device(xp, q), graph.to(xp)

        def f(x, qq):
            return schnet.total_energy(params, self.config, species, x, qq, graph)

        if not gradients:
            return float(f(positions, q))
        if method == "backward":
            E, dE_dx, dE_dq = backward.energy_and_gradients(params, self.config, species, positions, q, graph, dtype=dtype)
            return E, to_host(dE_dx), to_host(dE_dq)
        if np.dtype(dtype) != np.float64:
            raise ValueError("the autograd reference path runs in float64 only")
        E, (dE_dx, dE_dq) = value_and_grad(f, argnum=(0, 1))(positions, q)
        return float(E), np.asarray(dE_dx), np.asarray(dE_dq)


_ON_DEVICE = {}  # {(id(params), namespace): (params, the same on the device)}, the last few


def _params_on(params, xp):
    key = (id(params), xp)
    if key not in _ON_DEVICE:
        if len(_ON_DEVICE) >= 4:
            _ON_DEVICE.pop(next(iter(_ON_DEVICE)))
        _ON_DEVICE[key] = (params, {k: to_device(xp, v) for k, v in params.items()})
    return _ON_DEVICE[key][1]


def init_model(config, seed=0, mu_ref=None, provenance=None):
    """A model with fresh parameters.

    Dense weights are Xavier-uniform and biases zero (SchNetPack's ``Dense`` default),
    the embedding is standard normal (``torch.nn.Embedding``'s default), offsets are 0
    and scales 1. Deterministic for a given ``seed``.
    """
    rng = np.random.default_rng(seed)
    params = {}
    for name, shape in parameter_shapes(config).items():
        if name == "embedding":
            params[name] = rng.standard_normal(shape)
        elif name.endswith(".weight"):
            limit = np.sqrt(6.0 / (shape[0] + shape[1]))
            params[name] = rng.uniform(-limit, limit, shape)
        elif name == "scale":
            params[name] = np.ones(shape)
        else:
            params[name] = np.zeros(shape)
    return Model(config, params, dict(mu_ref or {}), dict(provenance or {}))

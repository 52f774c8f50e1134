r"""Import a SchNetPack 2 SchNet energy model into refgc.

:func:`from_schnetpack` turns a trained SchNetPack 2 ``SchNet`` + ``Atomwise`` model (its
``state_dict()``, or the loaded ``NeuralNetworkPotential`` itself) into a refgc
:class:`~refgc.model.Model`. With ``prior_strength=0`` (the default here) the imported
model gives SchNetPack's energies and forces at q = 1 everywhere, and extends them to
fractional existence by the two existence weights of :mod:`refgc.schnet`.

The conventions below are those of SchNetPack 2.1.1 (``src/schnetpack/representation/
schnet.py``, ``nn/base.py``, ``nn/blocks.py``, ``nn/radial.py``, ``nn/cutoff.py``,
``atomistic/atomwise.py``, ``transform/atomistic.py``):

* **Dense layers** are ``torch.nn.Linear`` subclasses, ``y = act(x Wᵀ + b)`` with W stored
  (out, in); refgc stores W (in, out), so every weight is transposed.
* **Parameter names** (t = interaction block, k = index of the ``Atomwise`` module)::

      representation.embedding.weight                     (max_z, A)  nn.Embedding, row = Z
      representation.radial_basis.offsets, .widths        (K,)        buffers (checked)
      representation.cutoff_fn.cutoff                     (1,)        buffer (the cutoff)
      representation.interactions.{t}.filter_network.0    (F, K) (F)  ssp after it
      representation.interactions.{t}.filter_network.1    (F, F) (F)
      representation.interactions.{t}.in2f.weight         (F, A)      no bias
      representation.interactions.{t}.f2out.0             (A, F) (A)  ssp after it
      representation.interactions.{t}.f2out.1             (A, A) (A)
      output_modules.{k}.outnet.0                         (A/2, A) (A/2)  activation after it
      output_modules.{k}.outnet.1                         (1, A/2) (1)

  (``.weight`` and ``.bias`` appended.) Every interaction block has its own filter
  network; SchNetPack's SchNet has no shared ``representation.filter_net`` (that is
  PaiNN's, which produces all blocks' filters at once). With ``shared_interactions=True``
  the state dict repeats the same tensors under every t, which imports as it is.
  A prefix before ``representation.`` (``model.`` in a Lightning checkpoint) is dropped.
* **Embedding**: ``nn.Embedding(100, A)`` indexed by the atomic number; refgc keeps the
  rows of its ``species``, in that order.
* **Radial basis** ``GaussianRBF(n_rbf, cutoff, start=0)``: offsets μ_k = linspace(start,
  r_c, K), widths all |μ₁ − μ₀|, e_k = exp(−½ (d − μ_k)²/width²). refgc's basis is this
  with start = 0; the buffers, when present, must agree with it (to 1e-6 relative:
  SchNetPack computes them in float32), else a ``ValueError``. refgc recomputes them in
  float64, so a model built in float32 differs from refgc at that 1e-7 level.
* **Cutoff** ``CosineCutoff(r_c)``: ½ (cos(π d/r_c) + 1) for d < r_c, else 0; stored as a
  float32 buffer. A buffer value that is exactly a float32 number is read as the shortest
  decimal that rounds to it (``4.8``, not ``4.800000190734863``), which is what was typed.
* **Shifted softplus** ``F.softplus(x) − ln 2`` in the filter network and f2out (refgc's
  ``ssp``; torch's softplus returns x itself above x = 20, a difference below e⁻²⁰).
* **Read-out** ``Atomwise(n_in=A, n_out=1, n_hidden=None, n_layers=2,
  aggregation_mode="sum")``: ``build_mlp`` gives A → max(1, A//2) → 1 with the activation
  after the first layer only: refgc's read-out. The activation is **``F.silu`` by
  default in SchNetPack 2** (not ssp) and a state dict does not record it, so it must be
  named (``readout_activation``) when importing a state dict.
* **Scaling and offsets**: ``ScaleProperty`` multiplies the summed energy by ``scale``
  (the data's standard deviation, ``stddev`` here); ``AddOffsets(add_mean=True,
  add_atomrefs=True, is_extensive=True)`` then adds ``mean · n_atoms + Σ_i atomref[Z_i]``
  (``mean`` is the mean energy *per atom*, ``atomref`` indexed by Z). Both are
  per-atom affine maps, so in refgc's ε_i = scale[s_i] · MLP(h_i) + offset[s_i]:
  ``scale[s] = c · stddev`` and ``offset[s] = c · (mean + atomref[Z_s])``, with c the
  energy unit in eV. Their on/off flags live outside the state dict: pass ``mean``,
  ``stddev``, ``atomrefs`` with a state dict; a module is read as it is.
* **Units**: SchNetPack models work in the units of their data (kcal/mol, Hartree, Bohr
  ...). Energies are converted with ASE's ``ase.units``; a model in Bohr needs only its
  cutoff converted, since the basis and the cutoff function depend on d/r_c alone
  (μ_k and the widths scale with r_c). Forces then come out in eV/Å.

torch and schnetpack are imported only when a module is passed; a state dict of tensors
is read through their ``.detach()``, and plain NumPy arrays work as well.
"""

import re
from collections.abc import Mapping

import numpy as np
from ase import units
from ase.data import atomic_numbers

from .model import Model, ModelConfig

__all__ = ["from_schnetpack", "ENERGY_UNITS", "DISTANCE_UNITS"]

ENERGY_UNITS = {  # eV per unit
    "eV": 1.0,
    "meV": 1e-3,
    "Hartree": units.Hartree,
    "Ha": units.Hartree,
    "kcal/mol": units.kcal / units.mol,
    "kJ/mol": units.kJ / units.mol,
}
DISTANCE_UNITS = {"Ang": 1.0, "Angstrom": 1.0, "Å": 1.0, "Bohr": units.Bohr, "nm": units.nm}  # Å per unit

_ANCHOR = "representation.embedding.weight"
_BLOCK = {  # refgc name in block t -> SchNetPack name in block t
    "filter.0": "filter_network.0",
    "filter.1": "filter_network.1",
    "in2f": "in2f",
    "f2out.0": "f2out.0",
    "f2out.1": "f2out.1",
}


def from_schnetpack(
    source,
    species,
    *,
    cutoff=None,
    readout_activation=None,
    mean=None,
    stddev=None,
    atomrefs=None,
    energy_unit="eV",
    distance_unit="Ang",
    energy_key="energy",
    prior_strength=0.0,
    prior_radius_scale=0.6,
    mu_ref=None,
    provenance=None,
):
    """A refgc :class:`~refgc.model.Model` equal to a SchNetPack 2 SchNet energy model.

    ``source`` is a state dict (``model.state_dict()``, a Lightning checkpoint's
    ``"state_dict"``, or any mapping of names to tensors or arrays) or a loaded
    ``schnetpack.model.NeuralNetworkPotential``. ``species`` are the elements the refgc
    model will know (each needs an embedding row).

    With a state dict, the sizes (A, F, K, T) come from the shapes, the cutoff from
    ``representation.cutoff_fn.cutoff`` (or ``cutoff=`` where that buffer is absent),
    and these must be given as the model was trained: ``readout_activation`` (``"ssp"``,
    ``"silu"``, ``"tanh"``; SchNetPack 2's ``Atomwise`` default is ``"silu"``),
    ``mean`` (energy per atom added by ``AddOffsets``, default 0), ``stddev``
    (``ScaleProperty``'s scale, default 1) and ``atomrefs`` ({symbol or Z: energy} or an
    array indexed by Z, default none). With a module, all of these are read from it (the
    ``Atomwise`` whose ``output_key`` is ``energy_key``, the ``ScaleProperty`` and
    ``AddOffsets`` acting on that key) and must not be passed.

    ``energy_unit`` (a key of :data:`ENERGY_UNITS`) and ``distance_unit`` (of
    :data:`DISTANCE_UNITS`) are the model's units; refgc's are eV and Å. The repulsive
    prior is off by default (``prior_strength=0``) so that the import is exact at q = 1.
    """
    if _is_module(source):
        given = dict(cutoff=cutoff, readout_activation=readout_activation, mean=mean, stddev=stddev, atomrefs=atomrefs)
        passed = [name for name, value in given.items() if value is not None]
        if passed:
            raise ValueError(f"from_schnetpack reads {passed} from the module; pass them only with a state dict")
        arrays, settings = _read_module(source, energy_key)
    else:
        if not isinstance(source, Mapping):
            kind = type(source).__name__
            raise ValueError(f"from_schnetpack needs a state dict or a NeuralNetworkPotential, got {kind}")
        if readout_activation is None:
            raise ValueError(
                "a state dict does not record the read-out activation: pass readout_activation= "
                "('silu' is SchNetPack 2's Atomwise default, 'ssp' the SchNet paper's)"
            )
        arrays = _to_numpy(source)
        settings = dict(
            cutoff=cutoff,
            readout_activation=readout_activation,
            mean=0.0 if mean is None else mean,
            stddev=1.0 if stddev is None else stddev,
            atomrefs=atomrefs,
        )
    if energy_unit not in ENERGY_UNITS:
        raise ValueError(f"energy_unit {energy_unit!r} is not one of {list(ENERGY_UNITS)}")
    if distance_unit not in DISTANCE_UNITS:
        raise ValueError(f"distance_unit {distance_unit!r} is not one of {list(DISTANCE_UNITS)}")
    species = (species,) if isinstance(species, str) else tuple(species)
    unknown = [s for s in species if s not in atomic_numbers or s == "X"]
    if not species or unknown:
        raise ValueError(f"species must name chemical elements, got {list(species)}")

    arrays = _strip_prefix(arrays)
    sizes, params = _map_parameters(arrays, species)
    model_cutoff = _cutoff(arrays, settings["cutoff"])
    _check_radial_basis(arrays, model_cutoff, sizes["n_rbf"])

    c = ENERGY_UNITS[energy_unit]  # eV per model energy unit
    stddev = _scalar(settings["stddev"], "stddev")
    mean = _scalar(settings["mean"], "mean")
    refs = _atomrefs(settings["atomrefs"], species)
    params["scale"] = np.full(len(species), c * stddev)  # ε_i = c (stddev · MLP + mean + atomref[Z_i])
    params["offset"] = c * (mean + refs)

    config = ModelConfig(
        species=species,
        cutoff=model_cutoff * DISTANCE_UNITS[distance_unit],  # the basis depends on d/r_c only
        readout_activation=settings["readout_activation"],
        prior_strength=prior_strength,
        prior_radius_scale=prior_radius_scale,
        **sizes,
    )
    prov = {"imported_from": "schnetpack", "energy_unit": energy_unit, "distance_unit": distance_unit}
    prov.update(provenance or {})
    return Model(config, params, dict(mu_ref or {}), prov)


# -- reading the source ----------------------------------------------------------------


def _is_module(source):
    """True for a SchNetPack module; other torch modules must be passed as a state dict."""
    if isinstance(source, Mapping) or not hasattr(source, "state_dict"):
        return False
    if not type(source).__module__.startswith("schnetpack."):
        raise ValueError(
            f"{type(source).__name__} is not a SchNetPack NeuralNetworkPotential: "
            "pass its state_dict() with the settings a state dict does not hold"
        )
    return True


def _to_numpy(state_dict):
    """name -> float64 NumPy array, whether the values are torch tensors or arrays."""
    return {str(name): _numpy(value) for name, value in state_dict.items()}


def _numpy(value):
    if hasattr(value, "detach"):  # a torch tensor; no torch import needed
        value = value.detach().cpu().double().numpy()
    return np.array(value, dtype=float)


def _strip_prefix(arrays):
    """Drop whatever precedes ``representation.`` (``model.`` in Lightning checkpoints)."""
    anchors = [name for name in arrays if name == _ANCHOR or name.endswith("." + _ANCHOR)]
    if len(anchors) != 1:
        raise ValueError(
            f"expected one '{_ANCHOR}' (the SchNet embedding by atomic number) in the state dict, "
            f"found {anchors or 'none'}"
        )
    prefix = anchors[0][: -len(_ANCHOR)]
    return {name[len(prefix):]: value for name, value in arrays.items() if name.startswith(prefix)}


def _read_module(nnp, energy_key):
    """The state dict and the settings of a ``NeuralNetworkPotential``, checked to be a
    SchNet + Atomwise energy model refgc can represent."""
    import schnetpack as spk
    import torch

    if not isinstance(nnp, spk.model.NeuralNetworkPotential):
        raise ValueError(f"expected a schnetpack NeuralNetworkPotential, got {type(nnp).__name__}")
    rep = nnp.representation
    if not isinstance(rep, spk.representation.SchNet):
        raise ValueError(f"cannot import this model: the representation is {type(rep).__name__}, not SchNet")
    parts = [("radial basis", rep.radial_basis, spk.nn.GaussianRBF), ("cutoff function", rep.cutoff_fn, spk.nn.CosineCutoff),
             ("embedding", rep.embedding, torch.nn.Embedding)]  # fmt: skip
    for what, part, wanted in parts:
        if type(part) is not wanted:
            raise ValueError(f"cannot import this model: the {what} is {type(part).__name__}, not {wanted.__name__}")
    if len(rep.electronic_embeddings):
        raise ValueError("cannot import this model: electronic (charge/spin) embeddings are not supported")
    ssp = spk.nn.activations.shifted_softplus
    for t, block in enumerate(rep.interactions):
        if block.filter_network[0].activation is not ssp or block.f2out[0].activation is not ssp:
            raise ValueError(f"interaction {t} does not use the shifted softplus activation refgc implements")
    for m in nnp.input_modules:
        if not isinstance(m, spk.atomistic.PairwiseDistances):
            raise ValueError(f"unsupported input module {type(m).__name__}")

    # Walk the energy's path: Atomwise, then ScaleProperty / AddOffsets in order. Each is
    # affine in the per-atom energy: ε_i = stddev · MLP(h_i) + mean + atomref[Z_i].
    state = dict(index=None, activation=None, stddev=1.0, mean=0.0, atomref=None, forces_seen=False)

    def visit(m, k=None):
        if isinstance(m, spk.atomistic.Atomwise):
            if m.output_key != energy_key:
                return
            if state["index"] is not None:
                raise ValueError(f"two Atomwise modules write {energy_key!r}")
            if m.aggregation_mode != "sum" or m.n_out != 1:
                raise ValueError("the Atomwise energy must be a sum of one value per atom (aggregation_mode='sum')")
            state["index"], state["activation"] = k, _activation_name(m.outnet[0].activation)
        elif isinstance(m, spk.transform.ScaleProperty):
            if m.output_key != energy_key:
                return
            if state["index"] is None or m.input_key != energy_key:
                raise ValueError(f"a ScaleProperty writes {energy_key!r} from something other than the Atomwise energy")
            if state["forces_seen"]:
                raise ValueError("ScaleProperty acts after Forces: its forces are not the energy's gradient")
            s = float(m.scale.detach().reshape(-1)[0])
            state["stddev"], state["mean"] = s * state["stddev"], s * state["mean"]
            if state["atomref"] is not None:
                state["atomref"] = s * state["atomref"]
        elif isinstance(m, spk.transform.AddOffsets):
            if m._property != energy_key:
                return
            if not m.is_extensive:
                raise ValueError("AddOffsets with is_extensive=False is not a sum over atoms")
            if m.add_mean:
                state["mean"] += float(m.mean.detach().reshape(-1)[0])
            if m.add_atomrefs:
                refs = _numpy(m.atomref)
                state["atomref"] = refs if state["atomref"] is None else _add_padded(state["atomref"], refs)
        elif isinstance(m, spk.atomistic.Forces):
            state["forces_seen"] = True
        elif not isinstance(m, (spk.atomistic.Response, spk.transform.CastTo64, spk.transform.CastTo32)):
            raise ValueError(f"unsupported module {type(m).__name__} in the model's outputs or post-processors")

    for k, m in enumerate(nnp.output_modules):
        visit(m, k)
    if state["index"] is None:
        raise ValueError(f"no Atomwise output module writes {energy_key!r}")
    if nnp.do_postprocessing:
        for m in nnp.postprocessors:
            visit(m)

    keep = ("representation.", f"output_modules.{state['index']}.")
    arrays = _to_numpy({name: value for name, value in nnp.state_dict().items() if name.startswith(keep)})
    settings = dict(
        cutoff=None,
        readout_activation=state["activation"],
        mean=state["mean"],
        stddev=state["stddev"],
        atomrefs=state["atomref"],
    )
    return arrays, settings


def _activation_name(fn):
    import schnetpack as spk
    import torch
    import torch.nn.functional as F

    if fn is spk.nn.activations.shifted_softplus:
        return "ssp"
    if fn is F.silu or isinstance(fn, torch.nn.SiLU):
        return "silu"
    if fn in (torch.tanh, F.tanh) or isinstance(fn, torch.nn.Tanh):
        return "tanh"
    raise ValueError(f"the Atomwise activation {fn!r} is not one refgc implements (ssp, silu, tanh)")


def _add_padded(a, b):
    out = np.zeros(max(len(a), len(b)))
    out[: len(a)] += a
    out[: len(b)] += b
    return out


# -- mapping the parameters ------------------------------------------------------------


def _map_parameters(arrays, species):
    """refgc parameters (without offset and scale) and the sizes A, F, K, T."""
    embedding = arrays[_ANCHOR]
    if embedding.ndim != 2:
        raise ValueError(f"'{_ANCHOR}' has shape {embedding.shape}, expected (max_z, n_atom_basis)")
    max_z, A = embedding.shape
    missing_rows = [s for s in species if atomic_numbers[s] >= max_z]
    if missing_rows:
        raise ValueError(f"the embedding has rows for Z < {max_z} only: no row for {missing_rows}")

    block_of = re.compile(r"representation\.interactions\.(\d+)\.")
    blocks = sorted({int(m.group(1)) for name in arrays if (m := block_of.match(name))})
    if not blocks or blocks != list(range(len(blocks))):
        raise ValueError(f"expected interaction blocks 0, 1, ... in the state dict, found {blocks}")
    T = len(blocks)
    first = "representation.interactions.0."
    if first + "in2f.weight" not in arrays or first + "filter_network.0.weight" not in arrays:
        raise ValueError(f"missing parameter {first}in2f.weight or {first}filter_network.0.weight")
    F = arrays[first + "in2f.weight"].shape[0]
    K = arrays[first + "filter_network.0.weight"].shape[-1]
    H = max(1, A // 2)

    torch_shapes = {"in2f": (F, A), "filter.0": (F, K), "filter.1": (F, F), "f2out.0": (A, F), "f2out.1": (A, A)}
    expected = {_ANCHOR: (max_z, A)}  # SchNetPack name -> (out, in) shape
    rename = {}  # refgc name -> SchNetPack name
    for t in range(T):
        for ours, theirs in _BLOCK.items():
            name = f"representation.interactions.{t}.{theirs}"
            expected[name + ".weight"] = torch_shapes[ours]
            rename[f"interactions.{t}.{ours}.weight"] = name + ".weight"
            if ours != "in2f":  # in2f has no bias
                expected[name + ".bias"] = torch_shapes[ours][:1]
                rename[f"interactions.{t}.{ours}.bias"] = name + ".bias"
    outputs = sorted({m.group(1) for name in arrays if (m := re.match(r"output_modules\.(\d+)\.outnet\.", name))})
    if len(outputs) != 1:
        raise ValueError(
            f"expected one Atomwise read-out (output_modules.k.outnet) in the state dict, found {len(outputs)}; "
            "pass a state dict with the energy's only"
        )
    out = f"output_modules.{outputs[0]}.outnet."
    expected.update({out + "0.weight": (H, A), out + "0.bias": (H,), out + "1.weight": (1, H), out + "1.bias": (1,)})
    rename.update({f"readout.{l}.{kind}": f"{out}{l}.{kind}" for l in (0, 1) for kind in ("weight", "bias")})

    missing = [name for name in expected if name not in arrays]
    if missing:
        raise ValueError(f"the state dict lacks {missing}")
    allowed = set(expected) | {"representation.radial_basis.offsets", "representation.radial_basis.widths",
                               "representation.cutoff_fn.cutoff"}  # fmt: skip
    extra = sorted(n for n in arrays if n.startswith(("representation.", out)) and n not in allowed)
    if extra:
        hint = ""
        if any(n.startswith(out) for n in extra):
            hint = " (refgc's read-out is A → A/2 → 1: Atomwise with n_hidden=None, n_layers=2)"
        raise ValueError(f"the state dict has parameters refgc's SchNet does not: {extra}{hint}")
    for name, shape in expected.items():
        if arrays[name].shape != shape:
            raise ValueError(f"{name!r} has shape {arrays[name].shape}, expected {shape} (torch's (out, in) layout)")

    params = {"embedding": embedding[[atomic_numbers[s] for s in species]]}  # (S, A) rows by Z
    for ours, theirs in rename.items():
        value = arrays[theirs]
        params[ours] = value.T.copy() if value.ndim == 2 else value.copy()  # (out, in) -> (in, out)
    sizes = dict(n_features=A, n_filters=F, n_rbf=K, n_interactions=T)
    return sizes, params


def _cutoff(arrays, given):
    if "representation.cutoff_fn.cutoff" not in arrays:
        if given is None:
            raise ValueError("the state dict has no representation.cutoff_fn.cutoff: pass cutoff=")
        return float(given)
    stored = float(arrays["representation.cutoff_fn.cutoff"].reshape(-1)[0])
    if float(np.float32(stored)) == stored:  # a float32 buffer: read what was typed
        stored = float(str(np.float32(stored)))
    if given is not None and abs(float(given) - stored) > 1e-6 * stored:
        raise ValueError(f"cutoff={given} does not match the model's cutoff {stored}")
    return float(given) if given is not None else stored


def _check_radial_basis(arrays, cutoff, n_rbf):
    offsets = arrays.get("representation.radial_basis.offsets")
    widths = arrays.get("representation.radial_basis.widths")
    centres = np.linspace(0.0, cutoff, n_rbf)
    tol = 1e-6 * cutoff
    if offsets is not None and (offsets.shape != centres.shape or np.abs(offsets - centres).max() > tol):
        raise ValueError(f"the Gaussian centres are not linspace(0, {cutoff}, {n_rbf}), which refgc requires")
    if widths is not None and (widths.shape != centres.shape or np.abs(widths - centres[1]).max() > tol):
        raise ValueError(f"the Gaussian widths are not all {centres[1]} (the centres' spacing), which refgc requires")


def _scalar(value, name):
    value = _numpy(value)
    if value.size != 1 or not np.isfinite(value).all():
        raise ValueError(f"{name} must be one finite number, got {value}")
    return float(value.reshape(-1)[0])


def _atomrefs(atomrefs, species):
    """(S,) single-atom reference energies of ``species`` from a mapping or a by-Z array."""
    if atomrefs is None:
        return np.zeros(len(species))
    if isinstance(atomrefs, Mapping):
        by_z = {atomic_numbers[k] if isinstance(k, str) else int(k): float(v) for k, v in atomrefs.items()}
        missing = [s for s in species if atomic_numbers[s] not in by_z]
        if missing:
            raise ValueError(f"atomrefs has no entry for {missing}")
        refs = np.array([by_z[atomic_numbers[s]] for s in species])
    else:
        table = _numpy(atomrefs)
        if table.ndim != 1:
            raise ValueError(f"atomrefs must be indexed by Z (1-D), got shape {table.shape}")
        missing = [s for s in species if atomic_numbers[s] >= len(table)]
        if missing:
            raise ValueError(f"atomrefs has {len(table)} entries: none for {missing}")
        refs = table[[atomic_numbers[s] for s in species]]
    if not np.isfinite(refs).all():
        raise ValueError("atomrefs contains NaN or inf")
    return refs

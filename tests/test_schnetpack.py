"""SchNetPack 2 models imported into refgc give the same energies, forces and ∂E/∂q.

(a) Without torch: ``tests/data/schnetpack_state_dict.npz`` holds a SchNetPack-2-named
state dict of NumPy arrays (a model in kcal/mol and Bohr, with mean, stddev and atomrefs),
one periodic slab with fractional existences, and the energy, gradients and embeddings
PyTorch computed for it (``tests/data/make_schnetpack_fixture.py`` writes it). The import,
name by name and as a whole, must reproduce those numbers; bad input is refused by name.

(b) With torch: the PyTorch twin (``tutorials/torch_schnet.py``, ``ExistenceSchNet``,
SchNetPack 2 parameter names) is imported with :func:`refgc.schnetpack.from_schnetpack` and
compared on random Cu–O slabs and clusters, at q = 1 and at fractional q, with and without
the repulsive prior and in other units; the fixture's numbers are checked to be the twin's.

(c) With schnetpack: a real SchNetPack 2 model, imported from the module and its state dict.
"""

import sys
import typing
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms, units

import refgc
from conftest import REL, SMALL, random_system
from refgc.schnetpack import from_schnetpack

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tutorials"))  # the PyTorch twin lives there

FIXTURE = Path(__file__).parent / "data" / "schnetpack_state_dict.npz"
SPECIES = SMALL["species"]
SIZES = dict(n_atom_basis=SMALL["n_features"], n_filters=SMALL["n_filters"], n_rbf=SMALL["n_rbf"],
             n_interactions=SMALL["n_interactions"], cutoff=SMALL["cutoff"])  # fmt: skip
KCAL = units.kcal / units.mol  # eV


def import_torch():
    """torch, or a skip: only the tests that run PyTorch need it (CI has none)."""
    return pytest.importorskip("torch")


def randomized(module, seed):
    """Every parameter (biases too) perturbed, so that no term vanishes by accident."""
    torch = import_torch()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return module


def twin(seed=0, **settings):
    """A randomized PyTorch twin of refgc's SchNet (SMALL's sizes unless overridden)."""
    torch = import_torch()
    from torch_schnet import ExistenceSchNet

    torch.manual_seed(seed)
    return randomized(ExistenceSchNet(**{**SIZES, **settings}), seed)


def in_bohr(atoms):
    """``atoms`` with positions and cell in Bohr, for a twin that works in Bohr."""
    scaled = atoms.copy()
    scaled.positions /= units.Bohr
    scaled.cell /= units.Bohr
    return scaled


def assert_same(model, reference, atoms, q=None, energy_factor=1.0, force_factor=1.0):
    """refgc's (E, ∂E/∂x, ∂E/∂q) equal ``reference``'s, scaled by the unit factors, to REL."""
    E, dE_dx, dE_dq = refgc.energy_and_gradients(model, atoms, q)
    E_ref, dE_dx_ref, dE_dq_ref = reference
    E_ref, dE_dx_ref, dE_dq_ref = E_ref * energy_factor, dE_dx_ref * force_factor, dE_dq_ref * energy_factor
    assert abs(E - E_ref) <= REL * max(1.0, abs(E_ref))
    np.testing.assert_allclose(dE_dx, dE_dx_ref, rtol=0, atol=REL * max(1.0, np.abs(dE_dx_ref).max()))
    np.testing.assert_allclose(dE_dq, dE_dq_ref, rtol=0, atol=REL * max(1.0, np.abs(dE_dq_ref).max()))


# -- (a) a stored state dict of NumPy arrays, against PyTorch's numbers (no torch) -------


@pytest.fixture(scope="module")
def stored():
    """The fixture file split into its groups: ``state`` (the state dict), ``settings``
    (from_schnetpack's keyword arguments), ``atoms`` with ``q``, and ``torch`` (the
    twin's results in the model's units)."""
    with np.load(FIXTURE) as npz:  # plain arrays: no pickle
        arrays = {name: npz[name] for name in npz.files}
    group = {g: {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith(g + "/")}
             for g in ("state", "settings", "atoms", "torch")}  # fmt: skip
    settings = {k: v.item() if v.ndim == 0 else v for k, v in group["settings"].items()}
    species = tuple(str(s) for s in settings.pop("species"))
    a = group["atoms"]
    atoms = Atoms(numbers=a["numbers"], positions=a["positions"], cell=a["cell"], pbc=a["pbc"])
    return dict(state=group["state"], species=species, settings=settings, atoms=atoms, q=a["q"], torch=group["torch"])


def import_stored(stored, **kw):
    return from_schnetpack(stored["state"], stored["species"], **{**stored["settings"], **kw})


def test_stored_state_dict_gives_pytorchs_numbers(stored):
    """The whole import (names, transposes, embedding rows, statistics, kcal/mol and Bohr)
    reproduces PyTorch's E, ∂E/∂x and ∂E/∂q on a periodic slab with fractional q."""
    model = import_stored(stored)
    ref = stored["torch"]
    assert_same(model, (ref["energy"], ref["dE_dx"], ref["dE_dq"]), stored["atoms"], stored["q"],
                KCAL, KCAL / units.Bohr)  # fmt: skip
    for t, (h, h_ref) in enumerate(zip(refgc.embeddings(model, stored["atoms"], stored["q"]), ref["embeddings"])):
        np.testing.assert_allclose(h, h_ref, rtol=0, atol=REL * np.abs(h_ref).max(), err_msg=f"layer {t}")


def test_stored_state_dict_maps_name_by_name(stored):
    """Each refgc parameter is its SchNetPack tensor: transposed to (in, out), the embedding
    rows of Z = 29 and 8, the statistics folded into per-element offset and scale in eV."""
    model, state, s = import_stored(stored), stored["state"], stored["settings"]
    p, c = model.params, model.config
    assert (c.n_features, c.n_filters, c.n_rbf, c.n_interactions) == (8, 6, 6, 2)
    assert c.readout_activation == "silu" and c.prior_strength == 0.0
    assert model.cutoff == pytest.approx(4.0, rel=1e-14)  # 4/Bohr Bohr
    np.testing.assert_array_equal(p["embedding"], state["representation.embedding.weight"][[29, 8]])
    layers = {"filter.0": "filter_network.0", "filter.1": "filter_network.1", "in2f": "in2f",
              "f2out.0": "f2out.0", "f2out.1": "f2out.1"}  # fmt: skip
    for t in range(2):
        for ours, theirs in layers.items():
            name = f"representation.interactions.{t}.{theirs}"
            np.testing.assert_array_equal(p[f"interactions.{t}.{ours}.weight"], state[name + ".weight"].T)
            if ours != "in2f":
                np.testing.assert_array_equal(p[f"interactions.{t}.{ours}.bias"], state[name + ".bias"])
    for layer in (0, 1):
        np.testing.assert_array_equal(p[f"readout.{layer}.weight"], state[f"output_modules.0.outnet.{layer}.weight"].T)
        np.testing.assert_array_equal(p[f"readout.{layer}.bias"], state[f"output_modules.0.outnet.{layer}.bias"])
    atomref = s["atomrefs"][[29, 8]]
    np.testing.assert_allclose(p["offset"], KCAL * (s["mean"] + atomref), rtol=1e-15)
    np.testing.assert_allclose(p["scale"], np.full(2, KCAL * s["stddev"]), rtol=1e-15)


def test_checkpoint_prefix_and_other_modules_are_dropped(stored):
    """A Lightning checkpoint's ``model.`` prefix is dropped, and so are other modules' tensors."""
    state = {"model." + k: v for k, v in stored["state"].items()}
    state["model.postprocessors.1.mean"] = np.zeros(1)  # not the SchNet's: ignored
    state["ema.representation.embedding.weight.shadow"] = np.zeros(3)  # outside the prefix: ignored
    model, direct = from_schnetpack(state, stored["species"], **stored["settings"]), import_stored(stored)
    assert model.config == direct.config
    for name, value in direct.params.items():
        np.testing.assert_array_equal(model.params[name], value)


def test_imported_model_saves_and_loads(stored, tmp_path):
    model = import_stored(stored, mu_ref={"O": -4.9})
    refgc.save_model(model, tmp_path / "imported.npz")
    again = refgc.load_model(tmp_path / "imported.npz")
    assert again.provenance["imported_from"] == "schnetpack" and again.mu_ref == {"O": -4.9}
    assert again.provenance["energy_unit"] == "kcal/mol" and again.provenance["distance_unit"] == "Bohr"
    atoms, q = stored["atoms"], stored["q"]
    assert refgc.energy(again, atoms, q) == refgc.energy(model, atoms, q)


def bad(state, match, species=SPECIES, **kw):
    kw.setdefault("readout_activation", "ssp")
    with pytest.raises(ValueError, match=match):
        from_schnetpack(state, species, **kw)


def test_bad_input(stored):
    state = stored["state"]
    without = dict(state)
    del without["representation.interactions.1.f2out.0.bias"]
    bad(without, "lacks.*interactions.1.f2out.0.bias")
    in2f = "representation.interactions.0.in2f.weight"
    transposed = dict(state, **{in2f: state[in2f].T})
    bad(transposed, "shape")
    bad({k: v for k, v in state.items() if "embedding" not in k}, "embedding")
    bad({k: v for k, v in state.items() if not k.startswith("output_modules")}, "Atomwise")
    deeper = dict(state, **{"output_modules.0.outnet.2.weight": np.ones((1, 1)), "output_modules.0.outnet.2.bias": np.ones(1)})
    bad(deeper, "A/2")
    extra = dict(state, **{"representation.electronic_embeddings.0.linear_q.weight": np.zeros((2, 2))})
    bad(extra, "does not")
    embedding = "representation.embedding.weight"
    bad(dict(state, **{embedding: state[embedding][:20]}), "no row for \\['Cu'\\]")  # rows for Z < 20 only
    bad(state, "readout_activation", readout_activation=None)
    bad(state, "activation", readout_activation="relu")  # ModelConfig refuses it
    bad(state, "energy_unit", energy_unit="kcal")
    bad(state, "distance_unit", distance_unit="pm")
    bad(state, "species", species=("Cu", "Xx"))
    bad(state, "cutoff", cutoff=5.0)  # the state dict says 4/Bohr
    no_cutoff = {k: v for k, v in state.items() if "cutoff_fn" not in k}
    bad(no_cutoff, "pass cutoff=")
    rc = float(state["representation.cutoff_fn.cutoff"][0])
    shifted = dict(state, **{"representation.radial_basis.offsets": np.linspace(0.5, rc, 6)})
    bad(shifted, "centres")
    bad(state, "atomrefs has no entry for \\['O'\\]", atomrefs={"Cu": -1.0})
    bad(state, "atomrefs has 10 entries", atomrefs=np.zeros(10))
    bad(state, "stddev", stddev=[1.0, 2.0])
    bad([1, 2, 3], "state dict")
    bad(state, "finite", mean=float("nan"))


# -- (b) the PyTorch twin, imported (torch) ----------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("kind", ["slab", "cluster"])
def test_plain_schnet_at_q_one(seed, kind):
    """q = 1, no prior: refgc is the imported SchNet (docs/method.md, the existence conditions, 4)."""
    net = twin(seed, readout_activation="silu")
    model = from_schnetpack(net.state_dict(), SPECIES, readout_activation="silu")
    atoms, _ = random_system(seed, kind)
    assert model.config.prior_strength == 0.0
    assert_same(model, net.energy_and_gradients(atoms), atoms, np.ones(len(atoms)))


@pytest.mark.parametrize("seed", [3, 4])
@pytest.mark.parametrize("kind", ["slab", "cluster"])
def test_fractional_existence(seed, kind):
    """Fractional q: energies, forces and ∂E/∂q agree (messages and read-out weighted alike)."""
    net = twin(seed)
    model = from_schnetpack(net.state_dict(), SPECIES, readout_activation="ssp")
    atoms, q = random_system(seed, kind)
    assert_same(model, net.energy_and_gradients(atoms, q), atoms, q)


@pytest.mark.parametrize("activation", ["ssp", "silu", "tanh"])
def test_readout_activations(activation):
    net = twin(5, readout_activation=activation)
    model = from_schnetpack(net.state_dict(), SPECIES, readout_activation=activation)
    atoms, q = random_system(5, "slab")
    assert_same(model, net.energy_and_gradients(atoms, q), atoms, q)


def test_repulsive_prior():
    """The twin's prior is refgc's: compared where it acts (pairs closer than r_ab)."""
    rng = np.random.default_rng(6)
    atoms = Atoms(rng.choice(list(SPECIES), 10), positions=rng.uniform(0, 3.0, (10, 3)))
    q = rng.uniform(0, 1, len(atoms))
    assert np.sort(atoms.get_all_distances()[np.triu_indices(10, 1)])[0] < 0.79  # the prior is on
    net = twin(6, prior_strength=5.0, prior_radius_scale=0.6)
    model = from_schnetpack(net.state_dict(), SPECIES, readout_activation="ssp", prior_strength=5.0)
    assert_same(model, net.energy_and_gradients(atoms, q), atoms, q)
    without = from_schnetpack(net.state_dict(), SPECIES, readout_activation="ssp")
    assert refgc.energy(model, atoms, q) > refgc.energy(without, atoms, q)


def test_kcal_per_mol_with_mean_stddev_and_atomrefs():
    """A model in kcal/mol with ScaleProperty and AddOffsets statistics comes out in eV."""
    stats = dict(mean=-12.5, stddev=3.7, atomrefs={29: -1640.2, 8: -47.1})
    net = twin(7, readout_activation="silu", **stats)
    model = from_schnetpack(net.state_dict(), SPECIES, readout_activation="silu", energy_unit="kcal/mol", **stats)
    np.testing.assert_allclose(model.params["offset"], KCAL * np.array([-12.5 - 1640.2, -12.5 - 47.1]), rtol=1e-15)
    np.testing.assert_allclose(model.params["scale"], KCAL * 3.7, rtol=1e-15)
    for kind in ("slab", "cluster"):
        atoms, q = random_system(7, kind)
        assert_same(model, net.energy_and_gradients(atoms, q), atoms, q, KCAL, KCAL)


def test_hartree_and_bohr():
    """A model in Hartree and Bohr: the cutoff converts, the basis follows (it depends on d/r_c)."""
    net = twin(8, cutoff=4.0 / units.Bohr, mean=-0.3, atomrefs={29: -1640.0, 8: -75.0})
    model = from_schnetpack(net.state_dict(), SPECIES, readout_activation="ssp", mean=-0.3,
                            atomrefs=net.atomref, energy_unit="Hartree", distance_unit="Bohr")  # fmt: skip
    assert model.cutoff == pytest.approx(4.0, rel=1e-14)
    atoms, q = random_system(8, "slab")
    assert_same(model, net.energy_and_gradients(in_bohr(atoms), q), atoms, q, units.Hartree, units.Hartree / units.Bohr)


def test_checkpoint_prefix_and_numpy_arrays():
    """A Lightning checkpoint's ``model.`` prefix is dropped; NumPy values import too."""
    net = twin(9)
    state = {"model." + k: v.numpy() for k, v in net.state_dict().items()}
    state["model.postprocessors.1.mean"] = np.zeros(1)  # not the SchNet's: ignored
    model = from_schnetpack(state, SPECIES, readout_activation="ssp")
    atoms, q = random_system(9, "cluster")
    assert_same(model, net.energy_and_gradients(atoms, q), atoms, q)
    assert model.config.n_features == 16 and model.config.n_filters == 12
    assert model.config.n_rbf == 8 and model.config.n_interactions == 2
    np.testing.assert_array_equal(model.params["embedding"], net.representation.embedding.weight.detach()[[29, 8]])


def test_a_torch_module_is_refused():
    """Only SchNetPack modules are read as modules; any other must come as its state dict."""
    bad(twin(11), "pass its state_dict\\(\\)")


def test_stored_numbers_are_the_twins(stored):
    """The fixture's reference numbers are what the PyTorch twin computes from the fixture's
    state dict now (so that (a) compares against PyTorch, not against itself)."""
    torch = import_torch()
    from torch_schnet import ExistenceSchNet

    state, s, ref = stored["state"], stored["settings"], stored["torch"]
    max_z, A = state["representation.embedding.weight"].shape
    rc = float(state["representation.cutoff_fn.cutoff"][0])
    F = state["representation.interactions.0.in2f.weight"].shape[0]
    K = len(state["representation.radial_basis.offsets"])
    sizes = dict(n_atom_basis=A, n_filters=F, n_rbf=K, n_interactions=2, cutoff=rc, max_z=max_z)
    atomrefs = {z: value for z, value in enumerate(s["atomrefs"]) if value}
    net = ExistenceSchNet(**sizes, readout_activation=s["readout_activation"], mean=s["mean"], stddev=s["stddev"],
                          atomrefs=atomrefs)  # fmt: skip
    net.load_state_dict({name: torch.tensor(value) for name, value in state.items()})
    E, dE_dx, dE_dq, layers = net.energy_and_gradients(in_bohr(stored["atoms"]), stored["q"], embeddings=True)
    assert E == pytest.approx(float(ref["energy"]), rel=REL)
    for ours, theirs in [(dE_dx, ref["dE_dx"]), (dE_dq, ref["dE_dq"]), (np.stack(layers), ref["embeddings"])]:
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=REL * np.abs(theirs).max())


# -- (c) a real SchNetPack 2 model -------------------------------------------------------


def import_schnetpack():
    """schnetpack, or a skip. SchNetPack 2.1 annotates with ``dataloader.T_co``, which newer
    torch no longer defines: a one-line shim lets it import (here, not in refgc)."""
    import_torch()
    import torch.utils.data.dataloader as dataloader

    if not hasattr(dataloader, "T_co"):
        dataloader.T_co = typing.TypeVar("T_co", covariant=True)
    return pytest.importorskip("schnetpack")


def real_schnetpack_model(spk, seed, activation, stats):
    """SchNet + Atomwise + ScaleProperty + Forces, AddOffsets(mean, atomrefs), float64, random."""
    import torch
    import torch.nn.functional as F

    A, K, rc = SIZES["n_atom_basis"], SIZES["n_rbf"], SIZES["cutoff"]
    activations = {"silu": F.silu, "ssp": spk.nn.shifted_softplus}  # Atomwise's default is silu
    torch.manual_seed(seed)
    representation = spk.representation.SchNet(
        n_atom_basis=A, n_interactions=SIZES["n_interactions"], n_filters=SIZES["n_filters"],
        radial_basis=spk.nn.GaussianRBF(n_rbf=K, cutoff=rc), cutoff_fn=spk.nn.CosineCutoff(rc),
    )  # fmt: skip
    mean = torch.tensor([stats["mean"]], dtype=torch.float64)
    offsets = spk.transform.AddOffsets("energy", add_mean=True, add_atomrefs=True, property_mean=mean)
    nnp = spk.model.NeuralNetworkPotential(
        representation=representation,
        input_modules=[spk.atomistic.PairwiseDistances()],
        output_modules=[
            spk.atomistic.Atomwise(n_in=A, output_key="energy", activation=activations[activation]),
            spk.transform.ScaleProperty("energy", scale=torch.tensor([stats["stddev"]], dtype=torch.float64)),
            spk.atomistic.Forces(),
        ],
        postprocessors=[spk.transform.CastTo64(), offsets],
    ).double()
    offsets.atomref = torch.tensor(stats["atomref"])  # (AddOffsets' atomrefs= cannot take a tensor)
    with torch.no_grad():  # float64 basis (SchNetPack builds it in float32)
        representation.radial_basis.offsets.copy_(torch.linspace(0.0, rc, K, dtype=torch.float64))
        representation.radial_basis.widths.fill_(rc / (K - 1))
    return randomized(nnp.eval(), seed)


def schnetpack_results(spk, nnp, atoms):
    import torch
    from ase.neighborlist import neighbor_list

    i, j, S = neighbor_list("ijS", atoms, SIZES["cutoff"])
    p = spk.properties
    inputs = {
        p.Z: torch.tensor(atoms.numbers, dtype=torch.long),
        p.R: torch.tensor(atoms.positions, dtype=torch.float64),
        p.cell: torch.tensor(np.asarray(atoms.cell), dtype=torch.float64)[None],
        p.pbc: torch.tensor(atoms.pbc)[None],
        p.idx_i: torch.tensor(i),
        p.idx_j: torch.tensor(j),
        p.offsets: torch.tensor(S @ np.asarray(atoms.cell), dtype=torch.float64),
        p.idx_m: torch.zeros(len(atoms), dtype=torch.long),
        p.n_atoms: torch.tensor([len(atoms)]),
    }
    out = nnp(inputs)
    return out["energy"].item(), -out["forces"].detach().numpy(), np.full(len(atoms), np.nan)


@pytest.mark.parametrize("activation", ["silu", "ssp"])
def test_real_schnetpack(activation):
    """A real SchNetPack 2 NeuralNetworkPotential, imported from the module and from its
    state dict, gives SchNetPack's energies and forces at q = 1 (in kcal/mol here)."""
    spk = import_schnetpack()
    atomref = np.zeros(100)
    atomref[[8, 29]] = [-47.1, -1640.2]
    stats = dict(mean=-12.5, stddev=3.7, atomref=atomref)
    nnp = real_schnetpack_model(spk, 12, activation, stats)
    from_module = from_schnetpack(nnp, SPECIES, energy_unit="kcal/mol")
    from_state = from_schnetpack(nnp.state_dict(), SPECIES, readout_activation=activation, energy_unit="kcal/mol",
                                 mean=stats["mean"], stddev=stats["stddev"], atomrefs=atomref)  # fmt: skip
    assert from_module.config == from_state.config
    for name, value in from_module.params.items():
        np.testing.assert_array_equal(value, from_state.params[name])
    for seed, kind in [(12, "slab"), (13, "cluster")]:
        atoms, _ = random_system(seed, kind)
        E, dE_dx, _ = schnetpack_results(spk, nnp, atoms)
        E_ref, dE_dx_ref, _ = refgc.energy_and_gradients(from_module, atoms)
        assert abs(E_ref - KCAL * E) <= REL * abs(KCAL * E)
        np.testing.assert_allclose(dE_dx_ref, KCAL * dE_dx, rtol=0, atol=REL * np.abs(KCAL * dE_dx).max())


def test_real_schnetpack_agrees_with_the_twin():
    """The PyTorch twin, loaded with a real SchNetPack model's state dict, is that model."""
    spk = import_schnetpack()
    from torch_schnet import ExistenceSchNet

    stats = dict(mean=0.4, stddev=2.0, atomref=np.zeros(100))
    nnp = real_schnetpack_model(spk, 14, "silu", stats)
    net = ExistenceSchNet(**SIZES, readout_activation="silu", mean=0.4, stddev=2.0)
    schnet_and_atomwise = ("representation.", "output_modules.0.")
    net.load_state_dict({k: v for k, v in nnp.state_dict().items() if k.startswith(schnet_and_atomwise)})
    atoms, _ = random_system(14, "slab")
    E, dE_dx, _ = schnetpack_results(spk, nnp, atoms)
    E_twin, dE_dx_twin, _ = net.energy_and_gradients(atoms)
    assert abs(E_twin - E) <= REL * abs(E)
    np.testing.assert_allclose(dE_dx_twin, dE_dx, rtol=0, atol=REL * np.abs(dE_dx).max())


def test_unsupported_schnetpack_modules():
    spk = import_schnetpack()
    stats = dict(mean=0.0, stddev=1.0, atomref=np.zeros(100))
    nnp = real_schnetpack_model(spk, 15, "silu", stats)
    with pytest.raises(ValueError, match="reads \\['readout_activation'\\] from the module"):
        from_schnetpack(nnp, SPECIES, readout_activation="silu")
    with pytest.raises(ValueError, match="no Atomwise output module writes 'energy_U0'"):
        from_schnetpack(nnp, SPECIES, energy_key="energy_U0")
    nnp.representation.radial_basis = spk.nn.BesselRBF(n_rbf=SIZES["n_rbf"], cutoff=SIZES["cutoff"])
    with pytest.raises(ValueError, match="BesselRBF"):
        from_schnetpack(nnp, SPECIES)

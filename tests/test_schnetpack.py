"""SchNetPack 2 models imported into refgc give the same energies, forces and ∂E/∂q.

The PyTorch twin (``tutorials/torch_schnet.py``, ``ExistenceSchNet``, SchNetPack 2 parameter names) is
imported with :func:`refgc.schnetpack.from_schnetpack` and compared on random Cu–O slabs
and clusters, at q = 1 and at fractional q, with and without the repulsive prior and in
other units; then a real ``schnetpack`` model when that package is installed. The whole
file is skipped without torch.
"""

import sys
import typing
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms, units

torch = pytest.importorskip("torch")

import refgc  # noqa: E402
from conftest import random_system  # noqa: E402
from refgc.schnetpack import from_schnetpack  # noqa: E402
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tutorials"))  # the PyTorch twin lives there
from torch_schnet import ExistenceSchNet  # noqa: E402

REL = 1e-10
SPECIES = ("Cu", "O")
SIZES = dict(n_atom_basis=16, n_filters=12, n_rbf=8, n_interactions=2, cutoff=4.0)


def randomized(module, seed):
    """Every parameter (biases too) perturbed, so that no term vanishes by accident."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return module


def twin(seed=0, **settings):
    torch.manual_seed(seed)
    return randomized(ExistenceSchNet(**{**SIZES, **settings}), seed)


def assert_same(model, reference, atoms, q=None, energy_factor=1.0, force_factor=1.0):
    """refgc's (E, ∂E/∂x, ∂E/∂q) equal ``reference``'s, scaled by the unit factors, to REL."""
    E, dE_dx, dE_dq = refgc.energy_and_gradients(model, atoms, q)
    E_ref, dE_dx_ref, dE_dq_ref = reference
    E_ref, dE_dx_ref, dE_dq_ref = E_ref * energy_factor, dE_dx_ref * force_factor, dE_dq_ref * energy_factor
    assert abs(E - E_ref) <= REL * max(1.0, abs(E_ref))
    np.testing.assert_allclose(dE_dx, dE_dx_ref, rtol=0, atol=REL * max(1.0, np.abs(dE_dx_ref).max()))
    np.testing.assert_allclose(dE_dq, dE_dq_ref, rtol=0, atol=REL * max(1.0, np.abs(dE_dq_ref).max()))


# -- (a) the PyTorch twin, imported ------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("kind", ["slab", "cluster"])
def test_plain_schnet_at_q_one(seed, kind):
    """q = 1, no prior: refgc is the imported SchNet (METHOD.md §3, condition 4)."""
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
    kcal = units.kcal / units.mol
    np.testing.assert_allclose(model.params["offset"], kcal * np.array([-12.5 - 1640.2, -12.5 - 47.1]), rtol=1e-15)
    np.testing.assert_allclose(model.params["scale"], kcal * 3.7, rtol=1e-15)
    for kind in ("slab", "cluster"):
        atoms, q = random_system(7, kind)
        assert_same(model, net.energy_and_gradients(atoms, q), atoms, q, kcal, kcal)


def test_hartree_and_bohr():
    """A model in Hartree and Bohr: the cutoff converts, the basis follows (it depends on d/r_c)."""
    net = twin(8, cutoff=4.0 / units.Bohr, mean=-0.3, atomrefs={29: -1640.0, 8: -75.0})
    model = from_schnetpack(net.state_dict(), SPECIES, readout_activation="ssp", mean=-0.3,
                            atomrefs=net.atomref, energy_unit="Hartree", distance_unit="Bohr")  # fmt: skip
    assert model.cutoff == pytest.approx(4.0, rel=1e-14)
    atoms, q = random_system(8, "slab")
    in_bohr = atoms.copy()
    in_bohr.positions /= units.Bohr
    in_bohr.cell /= units.Bohr
    assert_same(model, net.energy_and_gradients(in_bohr, q), atoms, q, units.Hartree, units.Hartree / units.Bohr)


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


def test_imported_model_saves_and_loads(tmp_path):
    model = from_schnetpack(twin(10).state_dict(), SPECIES, readout_activation="ssp", mu_ref={"O": -4.9})
    refgc.save_model(model, tmp_path / "imported.npz")
    again = refgc.load_model(tmp_path / "imported.npz")
    assert again.provenance["imported_from"] == "schnetpack" and again.mu_ref == {"O": -4.9}
    atoms, q = random_system(10, "slab")
    assert refgc.energy(again, atoms, q) == refgc.energy(model, atoms, q)


# -- (b) bad input -----------------------------------------------------------------------


def bad(state, match, species=SPECIES, **kw):
    kw.setdefault("readout_activation", "ssp")
    with pytest.raises(ValueError, match=match):
        from_schnetpack(state, species, **kw)


def test_bad_input():
    state = twin(11).state_dict()
    without = dict(state)
    del without["representation.interactions.1.f2out.0.bias"]
    bad(without, "lacks.*interactions.1.f2out.0.bias")
    in2f = "representation.interactions.0.in2f.weight"
    transposed = dict(state, **{in2f: state[in2f].T})
    bad(transposed, "shape")
    bad({k: v for k, v in state.items() if "embedding" not in k}, "embedding")
    bad({k: v for k, v in state.items() if not k.startswith("output_modules")}, "Atomwise")
    deeper = dict(state, **{"output_modules.0.outnet.2.weight": torch.ones(1, 1), "output_modules.0.outnet.2.bias": torch.ones(1)})
    bad(deeper, "A/2")
    extra = dict(state, **{"representation.electronic_embeddings.0.linear_q.weight": torch.zeros(2, 2)})
    bad(extra, "does not")
    bad(twin(11, max_z=20).state_dict(), "no row for \\['Cu'\\]")  # embedding rows for Z < 20 only
    bad(state, "readout_activation", readout_activation=None)
    bad(state, "activation", readout_activation="relu")  # ModelConfig refuses it
    bad(state, "energy_unit", energy_unit="kcal")
    bad(state, "distance_unit", distance_unit="pm")
    bad(state, "species", species=("Cu", "Xx"))
    bad(state, "cutoff", cutoff=5.0)  # the state dict says 4
    no_cutoff = {k: v for k, v in state.items() if "cutoff_fn" not in k}
    bad(no_cutoff, "pass cutoff=")
    shifted = dict(state, **{"representation.radial_basis.offsets": torch.linspace(0.5, 4.0, 8, dtype=torch.float64)})
    bad(shifted, "centres")
    bad(state, "atomrefs has no entry for \\['O'\\]", atomrefs={"Cu": -1.0})
    bad(state, "atomrefs has 10 entries", atomrefs=np.zeros(10))
    bad(state, "stddev", stddev=[1.0, 2.0])
    bad([1, 2, 3], "state dict")
    bad(twin(11), "pass its state_dict\\(\\)")  # the module itself is not SchNetPack's
    bad(state, "finite", mean=float("nan"))


# -- (c) a real SchNetPack 2 model -------------------------------------------------------


def import_schnetpack():
    """schnetpack, or a skip. SchNetPack 2.1 annotates with ``dataloader.T_co``, which newer
    torch no longer defines: a one-line shim lets it import (here, not in refgc)."""
    import torch.utils.data.dataloader as dataloader

    if not hasattr(dataloader, "T_co"):
        dataloader.T_co = typing.TypeVar("T_co", covariant=True)
    return pytest.importorskip("schnetpack")


def real_schnetpack_model(spk, seed, activation, stats):
    """SchNet + Atomwise + ScaleProperty + Forces, AddOffsets(mean, atomrefs), float64, random."""
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
    kcal = units.kcal / units.mol
    for seed, kind in [(12, "slab"), (13, "cluster")]:
        atoms, _ = random_system(seed, kind)
        E, dE_dx, _ = schnetpack_results(spk, nnp, atoms)
        E_ref, dE_dx_ref, _ = refgc.energy_and_gradients(from_module, atoms)
        assert abs(E_ref - kcal * E) <= REL * abs(kcal * E)
        np.testing.assert_allclose(dE_dx_ref, kcal * dE_dx, rtol=0, atol=REL * np.abs(kcal * dE_dx).max())


def test_real_schnetpack_agrees_with_the_twin():
    """The PyTorch twin, loaded with a real SchNetPack model's state dict, is that model."""
    spk = import_schnetpack()
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

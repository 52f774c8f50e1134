"""Write ``schnetpack_state_dict.npz``: a SchNetPack-2-named state dict with PyTorch's numbers.

The fixture lets ``tests/test_schnetpack.py`` check :func:`refgc.schnetpack.from_schnetpack`
without torch (CI has none): the parameter names, the (out, in) → (in, out) transposes,
the embedding rows picked by atomic number, ``mean``/``stddev``/``atomrefs`` turned into
per-element offsets and scales, and the unit conversions are all checked against energies,
gradients and embeddings that PyTorch computed. Remake it (torch needed) with::

    python tests/data/make_schnetpack_fixture.py

The model is the PyTorch twin (``tutorials/torch_schnet.py``, ``ExistenceSchNet``, whose
``state_dict()`` is named like a SchNetPack 2 SchNet + Atomwise), small (A = 8 features,
F = 6 filters, K = 6 Gaussians, T = 2 blocks, embedding rows for Z < 30) and, like a
SchNetPack model trained on quantum-chemistry data, in kcal/mol and Bohr, with an SiLU
read-out (SchNetPack 2's default) and ScaleProperty/AddOffsets statistics. Its parameters
come from NumPy's generator, not torch's, so the file depends on torch only through the
reference numbers. Everything is a plain array (``np.load`` needs no pickle):

``state/<name>``
    the state dict, SchNetPack 2 names, torch's (out, in) layout, float64
``settings/<name>``
    what a state dict does not hold: ``species``, ``readout_activation``, ``mean`` (per
    atom), ``stddev``, ``atomrefs`` (indexed by Z), ``energy_unit``, ``distance_unit``
``atoms/<name>``
    one small periodic Cu(110) slab with three candidates: ``numbers``, ``positions`` and
    ``cell`` in Å, ``pbc``, existences ``q`` (1 on the slab, 0.8, 0.35 and 0 on the candidates)
``torch/<name>``
    the twin's results for it, in the model's units: ``energy`` (kcal/mol), ``dE_dx``
    (kcal/mol/Bohr), ``dE_dq`` (kcal/mol), ``embeddings`` (T + 1, N, A), and
    ``torch_version``
"""

import sys
from pathlib import Path

import numpy as np
from ase import Atoms, units
from ase.build import fcc110

HERE = Path(__file__).resolve().parent
OUT = HERE / "schnetpack_state_dict.npz"

SIZES = dict(n_atom_basis=8, n_filters=6, n_rbf=6, n_interactions=2, max_z=30)
CUTOFF = 4.0 / units.Bohr  # Bohr: the model's distance unit
SETTINGS = dict(
    species=("Cu", "O"),
    readout_activation="silu",
    mean=-12.5,  # kcal/mol per atom
    stddev=3.7,
    atomrefs={29: -1640.2, 8: -47.1},  # kcal/mol
    energy_unit="kcal/mol",
    distance_unit="Bohr",
)


def structure():
    """A rattled Cu(110) slab, 2 × 1 × 2 (its 2.55 Å period along y is shorter than the
    cutoff: atoms meet their own images), and O, Cu, O candidates of q = 0.8, 0.35, 0."""
    slab = fcc110("Cu", (2, 1, 2), a=3.61, vacuum=5.0)
    slab.rattle(0.05, seed=0)
    candidates = Atoms("OCuO", positions=[[1.80, 0.10, 7.65], [5.20, 1.30, 7.95], [3.00, 1.90, 8.90]])
    atoms = slab + candidates
    atoms.info.pop("adsorbate_info", None)
    return atoms, np.r_[np.ones(len(slab)), 0.8, 0.35, 0.0]


def random_state(net, seed=0):
    """Every parameter drawn from NumPy's generator (weights ~ N(0, 1/fan_in), biases and
    embeddings ~ N(0, 0.3²) and N(0, 1)); the radial-basis and cutoff buffers kept."""
    rng = np.random.default_rng(seed)
    state = {}
    for name, tensor in net.state_dict().items():
        value = tensor.numpy()
        if name.startswith("representation.embedding"):
            value = rng.standard_normal(value.shape)
        elif name.endswith(".weight"):
            value = rng.standard_normal(value.shape) / np.sqrt(value.shape[1])  # (out, in)
        elif name.endswith(".bias"):
            value = 0.3 * rng.standard_normal(value.shape)
        state[name] = np.array(value, dtype=np.float64)
    return state


def fixture_arrays():
    """The fixture's arrays, computed with the PyTorch twin."""
    import torch

    sys.path.insert(0, str(HERE.parents[1] / "tutorials"))
    from torch_schnet import ExistenceSchNet

    s = SETTINGS
    net = ExistenceSchNet(**SIZES, cutoff=CUTOFF, readout_activation=s["readout_activation"], mean=s["mean"],
                          stddev=s["stddev"], atomrefs=s["atomrefs"])  # fmt: skip
    state = random_state(net)
    net.load_state_dict({name: torch.tensor(value) for name, value in state.items()})

    atoms, q = structure()
    in_bohr = atoms.copy()
    in_bohr.positions /= units.Bohr
    in_bohr.cell /= units.Bohr
    E, dE_dx, dE_dq, layers = net.energy_and_gradients(in_bohr, q, embeddings=True)

    atomrefs = np.zeros(SIZES["max_z"])
    for z, value in s["atomrefs"].items():
        atomrefs[z] = value
    arrays = {f"state/{name}": value for name, value in state.items()}
    arrays.update({
        "settings/species": np.array(s["species"]),
        "settings/readout_activation": np.array(s["readout_activation"]),
        "settings/mean": np.array(s["mean"]),
        "settings/stddev": np.array(s["stddev"]),
        "settings/atomrefs": atomrefs,
        "settings/energy_unit": np.array(s["energy_unit"]),
        "settings/distance_unit": np.array(s["distance_unit"]),
        "atoms/numbers": atoms.numbers,
        "atoms/positions": atoms.positions,
        "atoms/cell": np.asarray(atoms.cell),
        "atoms/pbc": atoms.pbc,
        "atoms/q": q,
        "torch/energy": np.array(E),
        "torch/dE_dx": dE_dx,
        "torch/dE_dq": dE_dq,
        "torch/embeddings": np.stack(layers),
        "torch/torch_version": np.array(torch.__version__),
    })  # fmt: skip
    return arrays


def main():
    arrays = fixture_arrays()
    np.savez_compressed(OUT, **arrays)
    with np.load(OUT) as npz:  # plain arrays only: loads without allow_pickle
        assert sorted(npz.files) == sorted(arrays)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(arrays)} arrays); E = {float(arrays['torch/energy']):.6f} kcal/mol")


if __name__ == "__main__":
    main()

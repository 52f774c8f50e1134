"""Bad input is answered by a ValueError that names the problem."""

import numpy as np
import pytest
from ase import Atoms

import refgc
from conftest import random_slab


@pytest.fixture
def slab():
    atoms, q, n_t = random_slab(0, n_add=3)
    return atoms, q, n_t


def test_unknown_species(model):
    with pytest.raises(ValueError, match="unknown species Au"):
        refgc.energy(model, Atoms("CuAu", positions=[[0, 0, 0], [2, 0, 0]]))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_positions(model, slab, bad):
    atoms, q, _ = slab
    atoms.positions[2, 1] = bad
    with pytest.raises(ValueError, match="positions contain NaN or inf \\(atom 2"):
        refgc.energy_and_gradients(model, atoms, q)


@pytest.mark.parametrize("value", [-0.1, 1.2, np.nan])
def test_existence_out_of_range(model, slab, value):
    atoms, q, _ = slab
    q[-1] = value
    with pytest.raises(ValueError, match=f"atom {len(atoms) - 1} has q"):
        refgc.energy(model, atoms, q)


def test_existence_of_wrong_length(model, slab):
    atoms, q, _ = slab
    with pytest.raises(ValueError, match="one value per atom"):
        refgc.energy(model, atoms, q[:-1])


def test_existence_array_on_atoms_is_checked_too(model, slab):
    atoms, q, _ = slab
    q[0] = 2.0
    atoms.set_array("existence", q)
    with pytest.raises(ValueError, match="atom 0 has q = 2.0"):
        refgc.energy(model, atoms)


def test_pbc_without_cell(model):
    atoms = Atoms("CuO", positions=[[0, 0, 0], [1.8, 0, 0]], pbc=True)
    with pytest.raises(ValueError, match="pbc is set along xyz but the cell"):
        refgc.energy(model, atoms)
    slab_like = Atoms("CuO", positions=[[0, 0, 0], [1.8, 0, 0]], cell=[4, 0, 0], pbc=[True, True, False])
    with pytest.raises(ValueError, match="pbc is set along xy"):
        refgc.energy(model, slab_like)


def test_empty_atoms(model):
    with pytest.raises(ValueError, match="empty"):
        refgc.energy(model, Atoms())


def test_chemical_potential_for_an_unknown_element(model, slab):
    atoms, q, n_t = slab
    with pytest.raises(ValueError, match="chemical potential given for Au, which the model does not know"):
        refgc.gibbs_free_energy(model, atoms, q, {"O": -1.0, "Au": 0.0}, n_t)
    with pytest.raises(ValueError, match="not finite"):
        refgc.gibbs_free_energy(model, atoms, q, {"O": np.nan}, n_t)


def test_gibbs_needs_whole_template_and_references(model, slab):
    atoms, q, n_t = slab
    q[0] = 0.5
    with pytest.raises(ValueError, match="template atoms must have q = 1; atom 0"):
        refgc.gibbs_free_energy(model, atoms, q, {}, n_t)
    with pytest.raises(ValueError, match="n_template must be an integer"):
        refgc.gibbs_free_energy(model, atoms, None, {}, len(atoms) + 1)
    bare = refgc.Model(model.config, model.params)  # no references
    with pytest.raises(ValueError, match="no reference chemical potential for"):
        refgc.gibbs_free_energy(bare, atoms, None, {}, n_t)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(species=()), "species is empty"),
        (dict(species=("Cu", "Xy")), "unknown chemical symbol"),
        (dict(species=("Cu", "Cu")), "duplicates"),
        (dict(species=("Cu",), n_rbf=1), "n_rbf"),
        (dict(species=("Cu",), cutoff=-1.0), "cutoff"),
        (dict(species=("Cu",), n_features=0), "n_features"),
        (dict(species=("Cu",), readout_activation="relu"), "readout_activation"),
        (dict(species=("Cu",), prior_radius_scale=5.0), "prior_radius_scale"),
    ],
)
def test_bad_configs(kwargs, message):
    with pytest.raises(ValueError, match=message):
        refgc.ModelConfig(**kwargs)


def test_params_must_match_the_config(model):
    params = dict(model.params)
    params["embedding"] = params["embedding"][:, :-1]
    with pytest.raises(ValueError, match="'embedding' has shape"):
        refgc.Model(model.config, params)
    with pytest.raises(ValueError, match="mu_ref names species the model does not know"):
        refgc.Model(model.config, model.params, mu_ref={"Ag": -2.0})

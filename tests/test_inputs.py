"""Bad input is answered by a ValueError that names the problem."""

import json
import re
from types import SimpleNamespace

import numpy as np
import pytest
from ase import Atoms
from ase.constraints import FixAtoms

import refgc
from conftest import random_slab
from refgc import search
from refgc.cli import main
from refgc.gibbs import chemical_potentials
from refgc.parallel import SerialExecutor


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
    with pytest.raises(ValueError, match="template atoms must have q = 1 unless they are removable; atom 0"):
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


# ---- The table: one row per bad call at the public boundary -------------------------------
# (entry point, bad call on the fixtures ``e``, fragment of the one-line message). A "cli"
# row's call returns the argv of ``refgc``, which must exit 2 with that message on stderr.
# The optimizer's template relaxation is made to fail in these tests: every check comes first.


def _opt(e, mu=None, slab=None, **change):
    kwargs = dict(model=e.model, candidates={"O": 3}, region=(10.3, 12.5), restarts=1, seed=0,
                  executor=SerialExecutor(), progress=False)
    return refgc.optimize(e.slab if slab is None else slab, {"O": -1.0} if mu is None else mu, **{**kwargs, **change})


def _slab_with(e, index, value):
    slab = e.slab.copy()
    slab.positions[index] = value
    return slab


def _gibbs(e, mu=None, **kwargs):
    return refgc.gibbs_free_energy(e.model, e.atoms, e.q, {"O": -1.0} if mu is None else mu, e.n_t, **kwargs)


def _cli(e, *options, slab=None):
    return ["optimize", slab or e.slab_file, "--mu", "O=-1", "--model", e.model_file, "--out", e.out,
            "--serial", "--quiet", *options]


NOT_A_MODEL = "model must be a refgc Model (or an object with species, mu_ref, cutoff and evaluate), got str"
FIT = "300 candidates cannot be placed 1.0 Å apart in the region z ∈ [10.30, 12.50] Å over 60.8 Å² of surface: random insertion places at most about 141"

BAD_CALLS = [
    # wrong types
    ("energy", lambda e: refgc.energy(e.model, [e.atoms]), "atoms must be an ase.Atoms, got list"),
    ("energy", lambda e: refgc.energy("model.npz", e.atoms), NOT_A_MODEL),
    ("energy_and_gradients", lambda e: refgc.energy_and_gradients(e.model, None), "atoms must be an ase.Atoms, got NoneType"),
    ("energy_and_gradients", lambda e: refgc.energy_and_gradients("model.npz", e.atoms), NOT_A_MODEL),
    ("embeddings", lambda e: refgc.embeddings(e.model, list(e.atoms)), "atoms must be an ase.Atoms, got list"),
    ("embeddings", lambda e: refgc.embeddings("model.npz", e.atoms), NOT_A_MODEL),
    ("gibbs_free_energy", lambda e: refgc.gibbs_free_energy(e.model, None, None, {}, 0), "atoms must be an ase.Atoms, got NoneType"),
    ("gibbs_free_energy", lambda e: refgc.gibbs_free_energy("model.npz", e.atoms, e.q, {}, e.n_t), NOT_A_MODEL),
    ("relax", lambda e: refgc.relax(e.model, [e.atoms]), "atoms must be an ase.Atoms, got list"),
    ("relax", lambda e: refgc.relax("model.npz", e.atoms), NOT_A_MODEL),
    ("optimize", lambda e: _opt(e, slab=[e.slab]), "slab must be an ase.Atoms, got list"),
    ("optimize", lambda e: _opt(e, model="model.npz"), NOT_A_MODEL),
    ("insertion_map", lambda e: refgc.insertion_map(e.model, None, "O", {}), "slab must be an ase.Atoms, got NoneType"),
    ("insertion_map", lambda e: refgc.insertion_map("model.npz", e.slab, "O", {}), NOT_A_MODEL),
    ("phase_diagram", lambda e: refgc.phase_diagram([e.slab], [-1.0], model=e.model), "slab must be an ase.Atoms, got list"),
    ("phase_diagram", lambda e: refgc.phase_diagram(e.slab, [-1.0], model="model.npz"), NOT_A_MODEL),
    ("Calculator", lambda e: refgc.Calculator("model.npz"), NOT_A_MODEL),
    # Δμ and μ
    ("chemical_potentials", lambda e: chemical_potentials(e.model, {"O": "abc"}), "chemical potential for O must be a real number, got 'abc'"),
    ("chemical_potentials", lambda e: chemical_potentials(e.model, {"O": "-1"}), "chemical potential for O must be a real number, got '-1'"),
    ("chemical_potentials", lambda e: chemical_potentials(e.model, {"O": None}), "chemical potential for O must be a real number, got None"),
    ("gibbs_free_energy", lambda e: _gibbs(e, mu={"O": "abc"}), "chemical potential for O must be a real number, got 'abc'"),
    ("gibbs_free_energy", lambda e: _gibbs(e, mu="O=-1"), "mu must be a mapping {symbol: Δμ in eV}, got 'O=-1'"),
    ("gibbs_free_energy", lambda e: _gibbs(e, mu=[-1.0]), "mu must be a mapping {symbol: Δμ in eV}, got [-1.0]"),
    ("optimize", lambda e: _opt(e, mu={"O": None}), "chemical potential for O must be a real number, got None"),
    ("optimize", lambda e: _opt(e, mu="O=-1"), "mu must be a mapping {symbol: Δμ in eV}, got 'O=-1'"),
    ("optimize", lambda e: _opt(e, existence_scale="a"), "existence_scale must be a real number, got 'a'"),
    ("optimize", lambda e: _opt(e, existence=("a", 1.0)), "existence must be a real number, got 'a'"),
    ("insertion_map", lambda e: refgc.insertion_map(e.model, e.slab, "O", {"O": "-1"}), "chemical potential for O must be a real number"),
    ("phase_diagram", lambda e: refgc.phase_diagram(e.slab, [-1.0], mu="Cu=0", model=e.model), "mu must be a mapping"),
    ("phase_diagram", lambda e: refgc.phase_diagram(e.slab, ["abc"], model=e.model), "Δμ of O in dmu_values must be a real number, got 'abc'"),
    ("phase_diagram", lambda e: refgc.phase_diagram(e.slab, [], model=e.model), "dmu_values is empty"),
    # ΔG
    ("gibbs_free_energy", lambda e: _gibbs(e, template_energy=np.nan), "template_energy is not finite: nan"),
    ("gibbs_free_energy", lambda e: _gibbs(e, template_energy="-30"), "template_energy must be a real number, got '-30'"),
    # references, in a Model and in a model file
    ("Model", lambda e: refgc.Model(e.model.config, e.model.params, {"O": "abc"}), "mu_ref['O'] must be a real number, got 'abc'"),
    ("Model", lambda e: refgc.Model(e.model.config, e.model.params, {"O": np.inf}), "mu_ref['O'] is not finite: inf"),
    ("load_model", lambda e: refgc.load_model(e.bad_model_file), "mu_ref['O'] must be a real number, got 'abc'"),
    # candidate counts
    ("optimize", lambda e: _opt(e, candidates={"O": -3}), "the number of O candidates must be a non-negative integer, got -3"),
    ("optimize", lambda e: _opt(e, candidates={"O": 2.7}), "the number of O candidates must be a non-negative integer, got 2.7"),
    ("optimize", lambda e: _opt(e, candidates={"O": 0.5}), "the number of O candidates must be a non-negative integer, got 0.5"),
    ("optimize", lambda e: _opt(e, candidates={"O": "3"}), "the number of O candidates must be a non-negative integer, got '3'"),
    ("optimize", lambda e: _opt(e, candidates=["O"]), "candidates must be a mapping {symbol: count}"),
    ("optimize", lambda e: _opt(e, candidates={"O": 300}), FIT),
    ("optimize", lambda e: _opt(e, candidates={"O": 10**6}), "1000000 candidates cannot be placed 1.0 Å apart"),
    ("insert", lambda e: search.insert(search.Problem(
        model=e.model, template=e.slab, mu={"O": -1.0}, candidates=("O",) * 300, region=(10.3, 12.5),
        template_energy=0.0, fixed=np.ones(9, bool)), np.random.default_rng(0)), FIT),
    # hops
    ("optimize", lambda e: _opt(e, hops=-1), "hops must be a non-negative integer, got -1"),
    ("optimize", lambda e: _opt(e, hops=2.5), "hops must be a non-negative integer, got 2.5"),
    ("cli", lambda e: _cli(e, "--hops", "-2"), "hops must be a non-negative integer, got -2"),
    # seeds
    ("optimize", lambda e: _opt(e, seed="abc"), "seed must be a non-negative integer, got 'abc'"),
    ("optimize", lambda e: _opt(e, seed=1.5), "seed must be a non-negative integer, got 1.5"),
    ("optimize", lambda e: _opt(e, seed=-1), "seed must be a non-negative integer, got -1"),
    # slabs
    ("optimize", lambda e: _opt(e, slab=Atoms()), "slab is an empty Atoms object"),
    ("optimize", lambda e: _opt(e, slab=_slab_with(e, (4, 0), np.nan)), "slab: positions contain NaN or inf (atom 4"),
    ("optimize", lambda e: _opt(e, slab=_slab_with(e, (4, 2), np.nan)), "slab: positions contain NaN or inf (atom 4"),
    ("relax", lambda e: refgc.relax(e.model, Atoms()), "atoms is an empty Atoms object"),
    ("relax", lambda e: refgc.relax(e.model, _slab_with(e, (0, 1), np.inf)), "atoms: positions contain NaN or inf (atom 0"),
    ("relax", lambda e: refgc.relax(e.model, e.slab, fmax="a"), "fmax must be a real number, got 'a'"),
    ("insertion_map", lambda e: refgc.insertion_map(e.model, _slab_with(e, (2, 0), np.nan), "O", {}), "slab: positions contain NaN or inf (atom 2"),
    # insertion map grid
    ("insertion_map", lambda e: refgc.insertion_map(e.model, e.slab, "O", {}, spacing=0), "spacing must be positive and finite, got 0"),
    ("insertion_map", lambda e: refgc.insertion_map(e.model, e.slab, "O", {}, spacing="a"), "spacing must be a real number, got 'a'"),
    ("insertion_map", lambda e: refgc.insertion_map(e.model, e.slab, "O", {}, spacing=1e-4), "more than 1,000,000"),
    ("insertion_map", lambda e: refgc.insertion_map(e.model, e.slab, "O", {}, height=np.nan), "height is not finite: nan"),
    # the command line: exit 2, one line on stderr
    ("cli", lambda e: _cli(e, slab=e.garbage_file), "could not read the slab from"),
    ("cli", lambda e: _cli(e, slab=e.empty_file), "could not read the slab from"),
    ("cli", lambda e: _cli(e, "--candidates", "O=-2"), "the number of O candidates must be a non-negative integer, got -2"),
    ("cli", lambda e: _cli(e, "--seed", "-1"), "seed must be a non-negative integer, got -1"),
    ("cli", lambda e: _cli(e, "--candidates", "O=400"), "400 candidates cannot be placed"),
    ("cli", lambda e: [*_cli(e)[:5], e.bad_model_file, *_cli(e)[6:]], "mu_ref['O'] must be a real number, got 'abc'"),
]


@pytest.fixture(scope="module")
def e(model, tmp_path_factory):
    """The fixtures of the table: a model, a 3×3 Cu surface (60.8 Å²), atoms with q, files."""
    tmp = tmp_path_factory.mktemp("inputs")
    a = 2.6
    slab = Atoms("Cu9", positions=[[i * a, j * a, 10.0] for i in range(3) for j in range(3)],
                 cell=[3 * a, 3 * a, 20.0], pbc=[True, True, False])
    slab.set_constraint(FixAtoms(indices=range(9)))
    atoms, q, n_t = random_slab(0, n_add=3)
    refgc.save_model(model, tmp / "model.npz")
    with np.load(tmp / "model.npz") as npz:
        arrays = dict(npz)
    meta = json.loads(str(arrays["metadata"]))
    meta["mu_ref"]["O"] = "abc"
    arrays["metadata"] = np.array(json.dumps(meta))
    with open(tmp / "bad_model.npz", "wb") as f:
        np.savez(f, **arrays)
    from ase.io import write

    write(tmp / "slab.extxyz", slab)
    (tmp / "garbage.xyz").write_text("garbage\nnot an xyz file\n")
    (tmp / "empty.xyz").write_text("")
    return SimpleNamespace(model=model, slab=slab, atoms=atoms, q=q, n_t=n_t, model_file=str(tmp / "model.npz"),
                           bad_model_file=str(tmp / "bad_model.npz"), slab_file=str(tmp / "slab.extxyz"),
                           garbage_file=str(tmp / "garbage.xyz"), empty_file=str(tmp / "empty.xyz"),
                           out=str(tmp / "out"))


@pytest.mark.parametrize("entry, call, message", BAD_CALLS,
                         ids=[f"{row[0]}-{k}" for k, row in enumerate(BAD_CALLS)])
def test_bad_call(e, entry, call, message, monkeypatch, capsys):
    import refgc.grandcanonical

    def too_late(*args, **kwargs):
        raise AssertionError("the template was relaxed before the input was checked")

    monkeypatch.setattr(refgc.grandcanonical, "relax", too_late)
    if entry == "cli":
        assert main(call(e)) == 2
        err = capsys.readouterr().err
        assert err.startswith("refgc optimize: error: ") and err.count("\n") == 1 and message in err, err
        return
    with pytest.raises(ValueError, match=re.escape(message)):
        call(e)

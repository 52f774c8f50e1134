"""The whole chain in smoke mode with EMT as the labeller: refgc data -> train -> learn ->
optimize -> validate, each resuming without relabelling what is done."""

import json

import ase.io
import pytest

import flaky_labeller
from refgc.cli import main
from refgc.modelfile import load_model
from refgc.surface import cu110_slab

DATA = ["--n-insertion", "12", "--n-relax", "3", "--n-template", "2", "--n-gas", "3", "--n-bulk", "3",
        "--relax-steps", "6", "--quiet"]
TINY = ["--features", "16", "--filters", "16", "--interactions", "2", "--rbf", "10", "--cutoff", "4.5",
        "--max-epochs", "3"]
LEARN = ["--rounds", "1", "--mu", "O=-1.0", "--restarts", "1", "--test-restarts", "1", "--snapshots", "1",
         "--epochs", "2", "--serial", "--quiet"]


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """data -> train on a 2×2 Cu(110) cell; returns the folder."""
    root = tmp_path_factory.mktemp("chain")
    ase.io.write(root / "slab.extxyz", cu110_slab((2, 2)))
    assert main(["data", str(root / "slab.extxyz"), "--species", "Cu", "O", "--labeller", "emt",
                 "--out", str(root / "data.extxyz"), *DATA]) == 0
    assert main(["train", str(root / "data.extxyz"), "--references", str(root / "data.references.json"),
                 "--out", str(root / "model.npz"), *TINY]) == 0
    return root


def test_data_writes_the_labellers_references(chain):
    refs = json.loads((chain / "data.references.json").read_text())
    assert refs["labeller"] == "emt" and set(refs["mu_ref"]) == {"Cu", "O"}
    assert load_model(chain / "model.npz").mu_ref == pytest.approx(refs["mu_ref"])
    # the bulk compounds of Cu and O, relaxed by the labeller, go into the model file
    assert set(refs["bulk_phases"]) == {"Cu2O", "CuO"} and refs["bulk_phases"]["Cu2O"]["labeller"] == "emt"
    assert load_model(chain / "model.npz").bulk_phases == refs["bulk_phases"]


def test_learn_optimize_validate_and_resume(chain, tmp_path, capsys):
    learn = ["learn", str(chain / "model.npz"), str(chain / "slab.extxyz"), "--labeller", "flaky_labeller:counting",
             "--data", str(chain / "data.extxyz"), "--test", str(chain / "data.extxyz"), "--out", str(tmp_path / "learn"),
             *LEARN]
    flaky_labeller.CALLS["n"] = 0
    assert main(learn) == 0
    calls = flaky_labeller.CALLS["n"]
    assert calls > 0
    state = json.loads((tmp_path / "learn" / "learn.json").read_text())
    assert [r["round"] for r in state["rounds"]] == [0] and state["recipe"]["labeller"] == "flaky_labeller:counting"
    scores = state["rounds"][0]["test"]
    assert scores["before"]["n_frames"] == scores["after"]["n_frames"] == len(ase.io.read(chain / "data.extxyz", ":"))
    visits = ase.io.read(tmp_path / "learn" / "round-0" / "visits.extxyz", index=":")
    assert visits and all("energy" in a.calc.results for a in visits)
    kept = load_model(tmp_path / "learn" / "model.npz")
    assert kept.bulk_phases == load_model(chain / "model.npz").bulk_phases  # fine-tuning keeps them
    assert kept.provenance["data"].count(str(tmp_path / "learn" / "round-0" / "visits.extxyz")) in (0, 4)
    candidate = load_model(tmp_path / "learn" / "round-0" / "model.npz")  # the next learn run finds the test file
    assert candidate.provenance["test"]["file"] == str(chain / "data.extxyz")
    assert candidate.provenance["test"]["energy_mae_per_atom"] == pytest.approx(scores["after"]["energy_mae_per_atom"])

    assert main(learn) == 0  # done: resumes to the end with no labeller call and the same model
    assert flaky_labeller.CALLS["n"] == calls
    assert main([*learn, "--epochs", "3"]) == 2  # another recipe in the same folder is refused, in one line
    err = capsys.readouterr().err
    assert "records another run (it differs in epochs)" in err and err.count("\n") == 1
    other = tmp_path / "other.extxyz"
    ase.io.write(other, cu110_slab((2, 3)))
    assert main([learn[0], learn[1], str(other), *learn[3:]]) == 2  # and another slab
    assert "it differs in slab" in capsys.readouterr().err

    result = tmp_path / "result"
    assert main(["optimize", str(chain / "slab.extxyz"), "--mu", "O=-1.0", "--model", str(tmp_path / "learn" / "model.npz"),
                 "--restarts", "2", "--seed", "0", "--hops", "0", "--serial", "--quiet", "--out", str(result)]) == 0
    assert main(["validate", str(result), "--labeller", "emt", "--top", "2", "--steps", "5"]) == 0
    rows = json.loads((result / "validation.json").read_text())
    assert rows  # the labeller's ΔG of each structure


def test_learn_interrupted_while_labelling_resumes_without_relabelling(chain, tmp_path, monkeypatch):
    learn = ["learn", str(chain / "model.npz"), str(chain / "slab.extxyz"), "--labeller", "flaky_labeller:counting",
             "--data", str(chain / "data.extxyz"), *LEARN]
    monkeypatch.setitem(flaky_labeller.CALLS, "n", 0)
    assert main([*learn, "--out", str(tmp_path / "whole")]) == 0
    whole = flaky_labeller.CALLS["n"]

    flaky_labeller.CALLS["n"] = 0
    monkeypatch.setitem(flaky_labeller.STOP_AFTER, "n", whole // 2)
    with pytest.raises(KeyboardInterrupt):
        main([*learn, "--out", str(tmp_path / "cut")])
    assert json.loads((tmp_path / "cut" / "learn.json").read_text())["rounds"] == []  # the recipe, no round yet
    assert main([*learn, "--out", str(tmp_path / "cut"), "--seed", "1"]) == 2  # a half-done round: same options only
    monkeypatch.setitem(flaky_labeller.STOP_AFTER, "n", None)
    assert main([*learn, "--out", str(tmp_path / "cut")]) == 0
    frames = ase.io.read(tmp_path / "cut" / "round-0" / "visits.extxyz", index=":")
    ids = [a.info["task_id"] for a in frames]
    assert len(ids) == len(set(ids))  # nothing labelled twice
    assert flaky_labeller.CALLS["n"] <= whole + 1  # only the call cut short is made again
    assert ids == [a.info["task_id"] for a in ase.io.read(tmp_path / "whole" / "round-0" / "visits.extxyz", index=":")]


def test_learn_paths_label_the_labellers_relaxation_of_each_end(chain, tmp_path):
    """--paths N: N frames of the labeller's own relaxation of each restart's end, labelled
    at their geometry, the template's fixed atoms held, and never relaxed twice."""
    from ase.calculators.emt import EMT

    learn = ["learn", str(chain / "model.npz"), str(chain / "slab.extxyz"), "--labeller", "flaky_labeller:counting",
             "--data", str(chain / "data.extxyz"), "--out", str(tmp_path / "learn"), "--paths", "2", *LEARN]
    flaky_labeller.CALLS["n"] = 0
    assert main(learn) == 0
    calls = flaky_labeller.CALLS["n"]
    frames = {a.info["frame_id"]: a for a in ase.io.read(tmp_path / "learn" / "round-0" / "visits.extxyz", index=":")}
    finals = [i for i in frames if i.endswith("/final")]
    assert len(finals) == 1  # one restart at one Δμ
    end = frames[finals[0]]
    path = sorted((a for i, a in frames.items() if i.startswith(finals[0][: -len("final")] + "path/")),
                  key=lambda a: a.info["step"])
    assert 1 <= len(path) <= 2 and all(a.info["config_type"] == "gc_path" for a in path)
    assert path[-1].get_potential_energy() < end.get_potential_energy()  # the labeller's relaxation goes down
    fixed = cu110_slab((2, 2)).constraints[0].get_indices()
    assert len(fixed) and all(abs(a.positions[fixed] - end.positions[fixed]).max() < 1e-9 for a in path)
    free = [i for i in range(len(end)) if i not in set(fixed)]
    assert path[-1].info["step"] == 200 or abs(path[-1].get_forces()[free]).max() < 0.05 * 3 ** 0.5
    for a in path:  # each label is the labeller's at that frame's geometry
        again = a.copy()
        again.calc = EMT()
        assert again.get_potential_energy() == pytest.approx(a.get_potential_energy(), abs=1e-8)
    assert json.loads((tmp_path / "learn" / "learn.json").read_text())["recipe"]["paths"] == 2

    assert main(learn) == 0  # done: nothing relaxed or labelled again
    assert flaky_labeller.CALLS["n"] == calls


def test_relax_paths_keep_must_be_positive():
    from refgc import datagen

    with pytest.raises(ValueError, match="keep must be a positive integer, got 0"):
        datagen.relax_paths([], None, "unused.extxyz", keep=0)


def test_relax_paths_of_a_relaxed_structure_is_its_end_alone(tmp_path):
    from ase.calculators.emt import EMT
    from ase.optimize import BFGS
    from refgc import datagen

    slab = cu110_slab((2, 2))
    slab.calc = EMT()
    BFGS(slab, logfile=None).run(fmax=0.001)
    slab.calc = None
    slab.info["frame_id"] = "relaxed"
    stats = datagen.relax_paths([slab], EMT, tmp_path / "p.extxyz", keep=3, progress=False)
    frames = ase.io.read(tmp_path / "p.extxyz", index=":")
    assert stats["calls"] == 1 and [a.info["frame_id"] for a in frames] == ["relaxed/path/0"]


@pytest.mark.parametrize("mu, message", [("O", "--mu must look like SYMBOL=V1,V2"),
                                         ("O=-1,x", "--mu must look like SYMBOL=V1,V2")])
def test_learn_bad_mu_is_one_line(chain, tmp_path, capsys, mu, message):
    assert main(["learn", str(chain / "model.npz"), str(chain / "slab.extxyz"), "--labeller", "emt", "--rounds", "1",
                 "--mu", mu, "--data", str(chain / "data.extxyz"), "--out", str(tmp_path / "l")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and not (tmp_path / "l").exists()


def test_learn_without_data_is_one_line(chain, tmp_path, capsys):
    model = load_model(chain / "model.npz")
    assert model.provenance["data"] == [str(chain / "data.extxyz")]  # found from the provenance when not given
    assert main(["learn", str(chain / "model.npz"), str(chain / "slab.extxyz"), "--labeller", "nonsense",
                 "--rounds", "1", "--mu", "O=-1", "--out", str(tmp_path / "l")]) == 2
    assert "unknown labeller 'nonsense'" in capsys.readouterr().err


RECIPE = """
description = "the chain in smoke mode"

[[step]]
command = "data"
slab = "slab.extxyz"
species = ["Cu", "O"]
labeller = "emt"
out = "data.extxyz"
n_insertion = 12
n-relax = 3
n_template = 2
n_gas = 3
n_bulk = 3
relax_steps = 6
quiet = true

[[step]]
command = "train"
data = ["data.extxyz"]
references = "data.references.json"
out = "model.npz"
features = 16
interactions = 2
rbf = 10
cutoff = 4.5
max_epochs = 2

[[step]]
command = "learn"
model = "model.npz"
slab = "slab.extxyz"
labeller = "emt"
rounds = 1
mu = { O = [-1.0, 0.0], Cu = [0.0] }
restarts = 1
test_restarts = 1
snapshots = 1
epochs = 1
serial = true
quiet = true
out = "learn"
"""


def test_build_runs_a_recipe_from_its_folder_and_resumes(tmp_path, capsys):
    folder = tmp_path / "recipe"
    folder.mkdir()
    ase.io.write(folder / "slab.extxyz", cu110_slab((2, 2)))
    (folder / "model.toml").write_text(RECIPE)
    assert main(["build", str(folder / "model.toml"), "--print"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("refgc data slab.extxyz --species Cu O --labeller emt --out data.extxyz --n-insertion 12")
    assert "--mu O=-1.0,0.0 --mu Cu=0.0" in lines[2] and "--serial --quiet" in lines[2]
    assert not (folder / "data.extxyz").exists()  # --print runs nothing

    assert main(["build", str(folder / "model.toml")]) == 0
    state = json.loads((folder / "learn" / "learn.json").read_text())
    assert state["recipe"]["mu"] == {"O": [-1.0, 0.0], "Cu": [0.0]} and len(state["rounds"]) == 1
    model = load_model(folder / "learn" / "model.npz")
    assert model.config.n_features == 16 and set(model.mu_ref) == {"Cu", "O"}
    n_frames = len(ase.io.read(folder / "data.extxyz", index=":"))
    capsys.readouterr()
    assert main(["build", str(folder / "model.toml")]) == 0  # done: nothing new
    out = capsys.readouterr().out
    assert "0 new frames" in out and len(ase.io.read(folder / "data.extxyz", index=":")) == n_frames


@pytest.mark.parametrize("text, message", [
    ("[[step]]\ncommand = 'train'\nfeature = 3\n", "step 1: refgc train has no option 'feature'"),
    ("[[step]]\ncommand = 'fly'\n", "step 1 needs command = one of data, train, learn, optimize, validate"),
    ("[[step]\n", "is not valid TOML"),
    ("x = 1\n", "expected [[step]] tables"),
])
def test_bad_recipes_are_one_line(tmp_path, capsys, text, message):
    (tmp_path / "r.toml").write_text(text)
    assert main(["build", str(tmp_path / "r.toml")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


RECIPES = {"cu110": ["data", "data", "data", "data", "train", "learn"], "cu-facets": ["data", "data", "data", "data", "train"],
           "cu-o": ["data"] * 8 + ["train"] * 3 + ["learn", "train", "learn"] + ["train"] * 3 + ["learn", "learn"]}


def test_every_recipe_is_checked():
    from pathlib import Path

    assert {p.parent.name for p in (Path(__file__).parents[1] / "recipes").glob("*/recipe.toml")} == set(RECIPES)


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_the_shipped_recipes_are_valid(name):
    """recipes/NAME/recipe.toml: every step is a command line refgc accepts, and the slab
    files of its data steps are there."""
    from pathlib import Path

    from refgc.cli import parser
    from refgc.recipe import command_lines

    folder = Path(__file__).parents[1] / "recipes" / name
    lines = command_lines(folder / "recipe.toml")
    assert [argv[0] for argv in lines] == RECIPES[name]
    for argv in lines:
        args = parser().parse_args(argv)  # exits on an option the command does not have
        if argv[0] == "data":
            assert (folder / args.slab).is_file(), args.slab


def test_diagram_ranks_every_structure_at_every_dmu(chain, tmp_path, capsys):
    out = tmp_path / "diagram"
    args = ["diagram", str(chain / "slab.extxyz"), "--model", str(chain / "model.npz"), "--vary", "O", "--dmu", "-1", "0",
            "--mu", "Cu=0", "--restarts", "1", "--hops", "0", "--seed", "0", "--out", str(out), "--serial", "--quiet"]
    assert main(args) == 0
    document = json.loads((out / "diagram.json").read_text())
    assert document["stable"][0]["from"] == -1.0 and document["stable"][-1]["to"] == 0.0
    assert all(a["to"] == b["from"] for a, b in zip(document["stable"], document["stable"][1:]))
    assert (out / "diagram.png").stat().st_size > 0 and (out / "dmu_O_-1.000" / "template.extxyz").exists()
    assert "the stable structure against Δμ_O" in capsys.readouterr().out
    assert main(args) == 0  # resumes: every restart is read back, none recomputed


def test_data_refuses_max_added_of_an_element_not_added(chain, capsys):
    assert main(["data", str(chain / "slab.extxyz"), "--species", "O", "--labeller", "emt", "--max-added", "Au=2",
                 "--out", str(chain / "x.extxyz")]) == 2
    assert "--max-added names Au, which is not in --species" in capsys.readouterr().err

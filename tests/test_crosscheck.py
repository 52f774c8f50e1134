"""The cross-check kit: refgc passes against itself, and small departures are caught."""

import copy
import json

import numpy as np
import pytest
from ase import Atoms

import refgc
from refgc import schnet
from refgc.cli import main
from refgc.crosscheck import compare, describe, first_departures, reference_models, reference_suite
from refgc.graph import build_graph
from refgc.model import Model, ModelConfig, parameter_shapes
from refgc.system import system_from_atoms


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ref")
    assert main(["reference", "--out", str(folder)]) == 0
    return folder, json.loads((folder / "reference.json").read_text())


def write(tmp_path, doc, name="theirs.json"):
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


def models_of(folder, doc):
    return {file: refgc.load_model(folder / file) for file in doc["models"]}


def test_suite_covers_the_method(suite):
    folder, doc = suite
    assert doc["format"] == "refgc-reference" and doc["version"] == 3 and len(doc["cases"]) >= 29
    models = models_of(folder, doc)
    assert set(models) == {"model.npz", "model_silu.npz", "model_floor.npz"} == {c["model"] for c in doc["cases"]}
    qs = np.concatenate([c["input"]["q"] for c in doc["cases"]])
    assert {0.0, 0.5, 1.0} <= set(qs.tolist())
    for file in models:
        near_cutoff = self_images = inside_prior = coincident = False
        for case in (c for c in doc["cases"] if c["model"] == file):
            inp, config = case["input"], models[file].config
            g = build_graph(np.array(inp["positions"]), np.array(inp["cell"]), np.array(inp["pbc"]), config.cutoff + 0.01)
            d = np.linalg.norm(g.vectors(np.array(inp["positions"])), axis=1)
            near_cutoff |= bool(np.any(np.abs(d - config.cutoff) < 1e-3))
            self_images |= bool(np.any(g.i == g.j))
            inside_prior |= bool(np.any(d < config.prior_radii().min()))
            coincident |= bool(np.any(d == 0.0))
            assert len(case["output"]["embeddings"]) == config.n_interactions + 1
        assert near_cutoff and self_images and inside_prior and coincident, file
    floored = models["model_floor.npz"]  # pairs inside the floor, and where the floor bends d̃ away from d
    below = bending = False
    for case in (c for c in doc["cases"] if c["model"] == "model_floor.npz"):
        inp = case["input"]
        s = system_from_atoms(floored.species, Atoms(inp["symbols"], positions=inp["positions"], cell=inp["cell"],
                                                     pbc=inp["pbc"]), np.array(inp["q"]))
        g = build_graph(s.positions, s.cell, s.pbc, floored.cutoff)
        d = np.linalg.norm(g.vectors(s.positions), axis=1)
        f = schnet.pair_values(floored.config.floor_radii(), s.species, g)
        below |= bool(np.any(d < f))
        bending |= bool(np.any((d > f) & (d < f + 0.1)))
    assert below and bending
    assert any(c["input"]["pbc"] == [True, True, False] for c in doc["cases"])
    assert any(not any(c["input"]["pbc"]) for c in doc["cases"])


def test_prior_acts_between_an_atom_and_its_own_image(suite):
    folder, doc = suite
    models = models_of(folder, doc)
    cases = [c for c in doc["cases"] if c["name"].endswith("self_image_prior")]
    assert {c["model"] for c in cases} == set(models)
    for case in cases:
        inp, model = case["input"], models[case["model"]]
        system = system_from_atoms(model.config.species, refgc_atoms(inp), np.array(inp["q"]))
        g = build_graph(system.positions, system.cell, system.pbc, model.config.cutoff)
        repulsion = schnet.repulsion(model.config, system.species, system.q, g, schnet.pair_distances(system.positions, g))
        assert np.sum(repulsion[g.i == g.j]) > 1e-3  # the prior between the Cu and its own images


def refgc_atoms(inp):
    from ase import Atoms

    return Atoms(inp["symbols"], positions=inp["positions"], cell=inp["cell"], pbc=inp["pbc"])


def test_second_model_separates_features_from_filters_and_readouts(suite):
    folder, doc = suite
    first, second, _ = models_of(folder, doc).values()
    assert first.config.readout_activation == "ssp" and second.config.readout_activation == "silu"
    c = second.config
    assert c.n_features != c.n_filters and c.species != first.config.species
    swapped = ModelConfig(**{**c.to_dict(), "n_features": c.n_filters, "n_filters": c.n_features})
    assert parameter_shapes(swapped) != {k: v.shape for k, v in second.params.items()}  # a swap cannot load
    widths = {np.shape(case["output"]["embeddings"][-1])[1] for case in doc["cases"] if case["model"] == "model_silu.npz"}
    assert widths == {c.n_features}


def test_silu_readout_implemented_as_ssp_fails_on_the_silu_cases(suite):
    folder, doc = suite
    models = models_of(folder, doc)
    wrong = models["model_silu.npz"]
    models["model_silu.npz"] = Model(ModelConfig(**{**wrong.config.to_dict(), "readout_activation": "ssp"}),
                                     wrong.params, wrong.mu_ref, wrong.provenance)
    theirs = reference_suite(models)
    for case in theirs["cases"]:
        del case["input"]  # its template_energy is theirs too
    first = first_departures(compare(theirs, doc))
    assert set(first) == {c["name"] for c in doc["cases"] if c["model"] == "model_silu.npz"}
    assert {row[1] for row in first.values()} == {"energy"}  # every embedding agrees: the read-out departs


def test_every_float_is_exact(suite):
    folder, doc = suite
    again = reference_suite(models_of(folder, doc))
    assert json.loads(json.dumps(again)) == {**doc, "refgc_version": again["refgc_version"]}  # bit for bit
    case = next(c for c in again["cases"] if c["name"] == "slab_candidates")
    for value in (case["input"]["template_energy"], case["output"]["energy"], case["output"]["gibbs"]):
        assert type(value) is float and float(repr(value)) == value and len(repr(value)) > 16


def test_refgc_passes_against_itself(suite, tmp_path, capsys):
    folder, doc = suite
    assert main(["compare", write(tmp_path, doc), "--reference", str(folder)]) == 0
    assert "0 failed" in capsys.readouterr().out
    assert main(["compare", write(tmp_path, doc)]) == 0  # against the suite computed now


def test_one_perturbed_gradient_component_fails(suite, tmp_path, capsys):
    folder, doc = suite
    theirs = copy.deepcopy(doc)
    case = next(c for c in theirs["cases"] if c["name"] == "slab_candidates")
    case["output"]["dG_dq"][-2] *= 1 + 1e-6
    assert main(["compare", write(tmp_path, theirs), "--reference", str(folder)]) == 1
    out, err = capsys.readouterr()
    failing = [line for line in out.splitlines() if line.endswith("FAIL")]
    assert len(failing) == 1 and "slab_candidates" in failing[0] and "dG_dq" in failing[0]
    assert err.strip() == "case slab_candidates: first departs at dG_dq"


def test_departing_embedding_layer_is_named_before_what_follows(suite, tmp_path, capsys):
    folder, doc = suite
    theirs = copy.deepcopy(doc)
    case = next(c for c in theirs["cases"] if c["name"] == "silu_triclinic_small")
    case["output"]["embeddings"][1][0][3] += 1e-5
    case["output"]["embeddings"][2][0][3] += 1e-3  # a wrong h¹ spoils h², E, ΔG and the gradients
    case["output"]["energy"] += 1e-3
    case["output"]["dE_dx"][0][0] += 1e-3
    failed = [r[1] for r in compare(theirs, doc) if not r[4]]
    assert failed == ["embeddings[1]", "embeddings[2]", "energy", "dE_dx"]
    assert main(["compare", write(tmp_path, theirs), "--reference", str(folder)]) == 1
    assert capsys.readouterr().err.strip() == "case silu_triclinic_small: first departs at embeddings layer 1 (h¹)"
    assert describe("embeddings[12]") == "embeddings layer 12 (h¹²)"


def test_incomplete_files_fail_by_name(suite):
    _, doc = suite
    theirs = copy.deepcopy(doc)
    del theirs["cases"][3]
    del theirs["cases"][0]["output"]["dE_dq"]
    theirs["cases"][1]["output"]["dE_dx"] = theirs["cases"][1]["output"]["dE_dx"][:-1]
    theirs["cases"][2]["input"]["q"][-1] = 0.25
    theirs["cases"][3]["model"] = "model_silu.npz"  # slab_candidates, after the deletion
    failed = {(r[0], r[1].split(" (")[0]) for r in compare(theirs, doc) if not r[4]}
    assert failed == {("slab_full", "(case missing)"), ("cluster_full", "dE_dq"), ("cluster_extra_absent", "dE_dx"),
                      ("cluster_extra_half", "(input differs from the reference)"),
                      ("slab_candidates", "(model 'model_silu.npz', expected 'model.npz')")}


def edited(doc, change):
    doc = copy.deepcopy(doc)
    change(doc)
    return doc


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(format="refgc-references"), "'format' is 'refgc-references'"),
    (lambda d: d.pop("format"), "'format' is None"),
    (lambda d: d.update(version=4), "'version' is 4, expected 3"),
    (lambda d: d.update(version=2), "regenerate the reference"),
    (lambda d: d.update(version=1), "regenerate the reference"),
    (lambda d: d["models"]["model_silu.npz"].update(sha256="0" * 64), "model_silu.npz has sha256 000000000000…"),
    (lambda d: d["cases"].insert(5, copy.deepcopy(d["cases"][0])), "case name 'cluster_full' appears more than once"),
])
def test_wrong_header_or_duplicates_are_refused(suite, tmp_path, capsys, change, message):
    folder, doc = suite
    assert main(["compare", write(tmp_path, edited(doc, change)), "--reference", str(folder)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_duplicate_names_in_the_reference_are_refused(suite, tmp_path, capsys):
    folder, doc = suite
    (tmp_path / "ref").mkdir()
    write(tmp_path / "ref", edited(doc, lambda d: d["cases"].append(copy.deepcopy(d["cases"][-1]))), "reference.json")
    assert main(["compare", write(tmp_path, doc), "--reference", str(tmp_path / "ref")]) == 2
    assert "reference.json: case name 'floor_self_image_prior' appears more than once" in capsys.readouterr().err


HEADER = '"format": "refgc-reference", "version": 3, '


@pytest.mark.parametrize("text, message", [
    ("{not json", "not valid JSON"),
    ("[]", "a JSON object"),
    ("{" + HEADER + '"cases": 3}', "list 'cases'"),
    ("{" + HEADER + '"cases": [{"name": "x"}]}', "'output'"),
    ("{" + HEADER + '"cases": [{"name": "cluster_full", "output": {"energy": "high"}}]}', "not a number"),
])
def test_malformed_files_are_clear_errors(tmp_path, capsys, text, message):
    path = tmp_path / "bad.json"
    path.write_text(text)
    assert main(["compare", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err

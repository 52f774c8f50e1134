"""The cross-check kit: refgc passes against itself, and small departures are caught."""

import copy
import json

import numpy as np
import pytest

import refgc
from refgc.cli import main
from refgc.crosscheck import compare, reference_suite
from refgc.graph import build_graph


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ref")
    assert main(["reference", "--out", str(folder)]) == 0
    return folder, json.loads((folder / "reference.json").read_text())


def write(tmp_path, doc, name="theirs.json"):
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


def test_suite_covers_the_method(suite):
    folder, doc = suite
    assert doc["format"] == "refgc-reference" and doc["version"] == 1 and len(doc["cases"]) >= 10
    model = refgc.load_model(folder / "model.npz")
    rc = model.config.cutoff
    qs = np.concatenate([c["input"]["q"] for c in doc["cases"]])
    assert {0.0, 0.5, 1.0} <= set(qs.tolist())
    near_cutoff = self_images = inside_prior = coincident = False
    for case in doc["cases"]:
        inp = case["input"]
        g = build_graph(np.array(inp["positions"]), np.array(inp["cell"]), np.array(inp["pbc"]), rc + 0.01)
        d = np.linalg.norm(g.vectors(np.array(inp["positions"])), axis=1)
        near_cutoff |= bool(np.any(np.abs(d - rc) < 1e-3))
        self_images |= bool(np.any(g.i == g.j))
        inside_prior |= bool(np.any(d < 1.19))  # the Cu–O prior radius
        coincident |= bool(np.any(d == 0.0))
        assert len(case["output"]["embeddings"]) == model.config.n_interactions + 1
    assert near_cutoff and self_images and inside_prior and coincident
    assert any(c["input"]["pbc"] == [True, True, False] for c in doc["cases"])
    assert any(not any(c["input"]["pbc"]) for c in doc["cases"])


def test_written_suite_reproduces_from_its_model_file(suite):
    folder, doc = suite
    again = reference_suite(refgc.load_model(folder / "model.npz"))
    assert json.loads(json.dumps(again["cases"])) == doc["cases"]  # bit for bit, through JSON


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
    assert "slab_candidates" in err and "dG_dq" in err


def test_departing_embedding_layer_is_named(suite):
    _, doc = suite
    theirs = copy.deepcopy(doc)
    theirs["cases"][0]["output"]["embeddings"][2][0][3] += 1e-5
    failed = [r for r in compare(theirs, doc) if not r[4]]
    assert [(r[0], r[1]) for r in failed] == [("cluster_full", "embeddings[2]")]


def test_incomplete_files_fail_by_name(suite):
    _, doc = suite
    theirs = copy.deepcopy(doc)
    del theirs["cases"][3]
    del theirs["cases"][0]["output"]["dE_dq"]
    theirs["cases"][1]["output"]["dE_dx"] = theirs["cases"][1]["output"]["dE_dx"][:-1]
    theirs["cases"][2]["input"]["q"][-1] = 0.25
    failed = {(r[0], r[1].split(" (")[0]) for r in compare(theirs, doc) if not r[4]}
    assert failed == {("slab_full", "(case missing)"), ("cluster_full", "dE_dq"), ("cluster_extra_absent", "dE_dx"),
                      ("cluster_extra_half", "(input differs from the reference)")}


@pytest.mark.parametrize("text, message", [
    ("{not json", "not valid JSON"),
    ('{"cases": 3}', "list 'cases'"),
    ('{"cases": [{"name": "x"}]}', "'output'"),
    ('{"cases": [{"name": "cluster_full", "output": {"energy": "high"}}]}', "not a number"),
])
def test_malformed_files_are_clear_errors(tmp_path, capsys, text, message):
    path = tmp_path / "bad.json"
    path.write_text(text)
    assert main(["compare", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err

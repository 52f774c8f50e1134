"""Model files: bit-identical round trips; damaged or foreign files are refused."""

import json
import zipfile

import numpy as np
import pytest

import refgc
from refgc.modelfile import parameters_digest
from conftest import random_slab


@pytest.fixture
def saved(model, tmp_path):
    path = tmp_path / "model.npz"
    refgc.save_model(with_provenance(model), path)
    return path


def with_provenance(model):
    return refgc.Model(model.config, model.params, model.mu_ref, {"labeller": "test", "date": "2026-11-23"})


def rewrite(path, arrays, metadata):
    with open(path, "wb") as f:
        np.savez(f, metadata=np.array(json.dumps(metadata)), **arrays)


def read(path):
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    return arrays, json.loads(str(arrays.pop("metadata")))


def test_round_trip_is_bit_identical(model, saved):
    model = with_provenance(model)
    loaded = refgc.load_model(saved)
    assert loaded.config == model.config
    assert loaded.mu_ref == model.mu_ref and loaded.provenance == model.provenance
    for name, value in model.params.items():
        assert loaded.params[name].dtype == np.float64
        assert np.array_equal(loaded.params[name], value)
    atoms, q, _ = random_slab(0)
    assert refgc.energy(loaded, atoms, q) == refgc.energy(model, atoms, q)


def test_metadata_is_plain_json(saved):
    arrays, meta = read(saved)
    assert meta["format"] == "refgc-model" and meta["format_version"] == 1
    assert meta["species"] == ["Cu", "O"] and meta["sha256"] == parameters_digest(arrays)


def test_tampered_parameter_is_detected(saved):
    arrays, meta = read(saved)
    arrays["readout.1.bias"] = arrays["readout.1.bias"] + 1e-12
    rewrite(saved, arrays, meta)
    with pytest.raises(ValueError, match="SHA-256"):
        refgc.load_model(saved)


def test_truncated_file_is_refused(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="not a readable refgc model file"):
        refgc.load_model(saved)


def test_pickled_object_arrays_are_refused(saved, tmp_path):
    arrays, meta = read(saved)
    with open(saved, "wb") as f:
        np.savez(f, metadata=np.array(json.dumps(meta)), evil=np.array([{"a": 1}], dtype=object), **arrays)
    with pytest.raises(ValueError, match="not a readable refgc model file"):
        refgc.load_model(saved)


def test_other_npz_and_other_files_are_refused(tmp_path):
    plain = tmp_path / "plain.npz"
    np.savez(plain, x=np.ones(3))
    with pytest.raises(ValueError, match="no JSON metadata"):
        refgc.load_model(plain)
    text = tmp_path / "model.npz.txt"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not a readable"):
        refgc.load_model(text)
    with pytest.raises(FileNotFoundError):
        refgc.load_model(tmp_path / "missing.npz")


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda a, m: m.update(format_version=99), "format version 99"),
        (lambda a, m: m.pop("sha256"), "lacks 'sha256'"),
        (lambda a, m: m["config"].update(n_features=8), "parameters do not match|shape"),
        (lambda a, m: m["config"].update(colour="red"), "invalid config"),
        (lambda a, m: a.pop("offset"), "missing \\['offset'\\]"),
        (lambda a, m: a.update(offset=a["offset"].astype(np.float32)), "dtype float32"),
    ],
)
def test_inconsistent_files_are_refused(saved, damage, message):
    arrays, meta = read(saved)
    damage(arrays, meta)
    rewrite(saved, arrays, meta)
    with pytest.raises(ValueError, match=message):
        refgc.load_model(saved)


def test_non_finite_parameters_are_refused(saved):
    arrays, meta = read(saved)
    arrays["scale"][0] = np.nan
    meta["sha256"] = parameters_digest(arrays)
    rewrite(saved, arrays, meta)
    with pytest.raises(ValueError, match="NaN or inf"):
        refgc.load_model(saved)


def test_npz_is_a_zip_of_npy_files(saved):
    with zipfile.ZipFile(saved) as z:
        assert "metadata.npy" in z.namelist() and "embedding.npy" in z.namelist()


def test_save_creates_the_folder(model, tmp_path):
    path = tmp_path / "new" / "folder" / "model.npz"
    refgc.save_model(model, path)
    assert refgc.load_model(path).config == model.config


def test_bulk_phases_round_trip_and_are_checked(model, tmp_path):
    from dataclasses import replace

    bulk = {"Cu2O": {"formula": {"Cu": 2, "O": 1}, "formation_energy": -1.28, "labeller": "emt"}}
    with_bulk = replace(model, bulk_phases=bulk)
    refgc.save_model(with_bulk, tmp_path / "m.npz")
    assert refgc.load_model(tmp_path / "m.npz").bulk_phases == bulk
    assert with_bulk.with_prior(strength=2.0).bulk_phases == bulk  # derived models keep them
    with pytest.raises(ValueError, match="elements the model does not know: \\['Zn'\\]"):
        replace(model, bulk_phases={"ZnO": {"formula": {"Zn": 1, "O": 1}, "formation_energy": -3.0}})
    with pytest.raises(ValueError, match="formation_energy must be a real number"):
        replace(model, bulk_phases={"Cu2O": {"formula": {"Cu": 2, "O": 1}, "formation_energy": "low"}})


def test_files_without_bulk_phases_load(model, saved):
    arrays, metadata = read(saved)
    metadata.pop("bulk_phases")
    rewrite(saved, arrays, metadata)
    assert refgc.load_model(saved).bulk_phases == {}

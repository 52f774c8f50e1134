"""Model files: a NumPy ``.npz`` of plain float64 arrays plus one JSON metadata string.

Layout (format version 1)::

    metadata          0-d unicode array, JSON:
                        {"format": "refgc-model", "format_version": 1,
                         "config": {ModelConfig fields}, "species": [...],
                         "mu_ref": {symbol: eV}, "provenance": {...},
                         "bulk_phases": {compound: {"formula", "formation_energy", ...}},
                         "sha256": hex digest of the parameter arrays}
    <parameter name>  float64 array, one per entry of refgc.model.parameter_shapes

``bulk_phases`` is optional (files written before it have none, and older refgc ignores it).
The digest covers, for every parameter in sorted name order, the name, the shape and
the little-endian float64 bytes. Files load with ``allow_pickle=False``; a file that is
truncated, tampered with, carries object arrays, or does not match its config is
rejected with a ``ValueError`` that says why.
"""

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np

from .model import Model, ModelConfig, parameter_shapes

__all__ = ["save_model", "load_model", "shipped_models", "FORMAT_VERSION", "DEFAULT_MODEL"]

FORMAT = "refgc-model"
FORMAT_VERSION = 1
SHIPPED = Path(__file__).parent / "models"
DEFAULT_MODEL = SHIPPED / "default.npz"


def shipped_models():
    """The names of the models installed with refgc (``"default"``, ``"cu-facets"``), which
    :func:`load_model` and every ``--model`` option take in place of a file."""
    return sorted(p.stem for p in SHIPPED.glob("*.npz"))


def _resolve(path):
    """The file of ``path``: ``None`` is the default model; a bare name that is not a file here
    but a shipped model's name is that model's file; anything else is a path."""
    if path is None:
        return DEFAULT_MODEL
    candidate = Path(path)
    if candidate.exists() or candidate.suffix or candidate.name != str(path):
        return candidate
    if str(path) in shipped_models():
        return SHIPPED / f"{path}.npz"
    raise FileNotFoundError(f"no model file {path!r}, and no shipped model of that name "
                            f"(shipped: {', '.join(shipped_models())})")


def parameters_digest(params):
    h = hashlib.sha256()
    for name in sorted(params):
        value = np.ascontiguousarray(params[name], dtype="<f8")
        h.update(f"{name}:{value.shape};".encode())
        h.update(value.tobytes())
    return h.hexdigest()


def lineage(provenance):
    """A model's ``provenance``, then that of each model it was fine-tuned from
    (``fine_tuned_from``, recorded by :func:`refgc.training.train_from_files`), nearest first."""
    while provenance:
        yield provenance
        parent = provenance.get("fine_tuned_from")
        provenance = parent.get("provenance") if isinstance(parent, dict) else None


def save_model(model, path):
    """Write ``model`` to ``path`` (a ``.npz``; the suffix is not added for you)."""
    params = {name: np.asarray(value, dtype="<f8") for name, value in model.params.items()}
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": model.config.to_dict(),
        "species": list(model.species),
        "mu_ref": {s: float(v) for s, v in model.mu_ref.items()},
        "provenance": model.provenance,
        "bulk_phases": model.bulk_phases,
        "sha256": parameters_digest(params),
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:  # a file object keeps numpy from appending ".npz"
        np.savez(f, metadata=np.array(json.dumps(metadata, indent=1, sort_keys=True)), **params)


def _read_npz(path):
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as err:
        raise ValueError(f"{path}: not a readable refgc model file ({type(err).__name__}: {err})") from None


def load_model(path=None):
    """Read a model file. ``path=None`` loads the default model shipped with refgc, and the
    name of a shipped model (:func:`shipped_models`, e.g. ``"cu-facets"``) loads that model."""
    if path is None and not DEFAULT_MODEL.exists():
        raise FileNotFoundError(f"no default model is installed at {DEFAULT_MODEL}")
    path = _resolve(path)
    arrays = _read_npz(path)
    if "metadata" not in arrays or arrays["metadata"].dtype.kind != "U" or arrays["metadata"].ndim != 0:
        raise ValueError(f"{path}: no JSON metadata entry: not a refgc model file")
    try:
        meta = json.loads(str(arrays.pop("metadata")))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: metadata is not valid JSON ({err})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path}: metadata does not describe a refgc model")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path}: model file format version {meta.get('format_version')!r} is not supported "
            f"(this refgc reads version {FORMAT_VERSION})"
        )
    for key in ("config", "mu_ref", "provenance", "sha256"):
        if key not in meta:
            raise ValueError(f"{path}: metadata lacks {key!r}")
    if not (isinstance(meta["config"], dict) and isinstance(meta["mu_ref"], dict) and isinstance(meta["provenance"], dict)):
        raise ValueError(f"{path}: config, mu_ref and provenance in the metadata must be JSON objects")
    try:
        config = ModelConfig(**meta["config"])
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: invalid config in metadata ({err})") from None
    expected = parameter_shapes(config)
    missing, extra = sorted(set(expected) - set(arrays)), sorted(set(arrays) - set(expected))
    if missing or extra:
        raise ValueError(f"{path}: parameters do not match the config: missing {missing}, unexpected {extra}")
    for name, value in arrays.items():
        if value.dtype != np.dtype("<f8"):
            raise ValueError(f"{path}: parameter {name!r} has dtype {value.dtype}, expected float64")
    if parameters_digest(arrays) != meta["sha256"]:
        raise ValueError(f"{path}: SHA-256 of the parameters does not match the metadata: the file was modified or corrupted")
    try:  # Model checks the references (real, finite numbers for known species)
        return Model(config, arrays, dict(meta["mu_ref"]), dict(meta["provenance"]), dict(meta.get("bulk_phases", {})))
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None

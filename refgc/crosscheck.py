"""Cross-check kit: reference vectors another implementation can reproduce, and a comparer.

``reference_suite()`` builds a versioned set of cases that exercise every convention of
the method: clusters and periodic slabs, cells so small that an atom meets its own
images, pairs within 1e-3 Å of the cutoff, existences 0, ½ and 1, candidates inside the
repulsive prior's range and exactly on top of each other. For each case it records the
energy, its gradients, ΔG and its gradients at a stated Δμ, and the embeddings of every
layer, so another code can find the first layer where it departs.

JSON schema (``format`` = ``"refgc-reference"``, ``version`` = 1; floats are written with
Python's ``repr``, so every float64 survives the round trip exactly)::

    {"format": "refgc-reference", "version": 1, "refgc_version": "...",
     "model": "model.npz", "model_sha256": "...",
     "cases": [{"name": "...", "description": "...",
                "input": {"symbols": [...], "positions": [[x, y, z], ...] (Å),
                          "cell": [[...], [...], [...]] (Å), "pbc": [bool, bool, bool],
                          "q": [...], "mu": {symbol: Δμ eV}, "n_template": int,
                          "template_energy": eV},
                "output": {"energy": eV, "dE_dx": [[...]] (eV/Å), "dE_dq": [...] (eV),
                           "gibbs": eV, "dG_dx": [[...]], "dG_dq": [...],
                           "embeddings": [h⁰, h¹, ..., h^T], each [[...]] (N × A)}}]}

An implementation under test writes the same file with its own ``output`` for every
case (``input`` may be left out; if present it must equal the reference's).
:func:`compare` reports, per case and quantity, the largest absolute and relative error
and whether ``|theirs − ours| ≤ atol + rtol·|ours|`` holds everywhere (the tolerances
in :data:`TOLERANCES`; relative errors are taken against ``max(|ours|, 1e-8)``).
"""

import json
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.build import bulk, fcc110

from . import __version__
from .energy import embeddings, energy, energy_and_gradients
from .gibbs import gibbs_free_energy
from .model import ModelConfig, init_model
from .modelfile import parameters_digest, save_model

__all__ = ["reference_model", "reference_suite", "write_reference", "compare", "TOLERANCES", "CrossCheckError"]

FORMAT, VERSION = "refgc-reference", 1
TOLERANCES = {  # (rtol, atol): float64 implementations agree to ~1e-12; these leave room for summation order
    "energy": (1e-10, 1e-10), "gibbs": (1e-10, 1e-10),
    "dE_dx": (1e-8, 1e-10), "dE_dq": (1e-8, 1e-10), "dG_dx": (1e-8, 1e-10), "dG_dq": (1e-8, 1e-10),
    "embeddings": (1e-8, 1e-10),
}  # fmt: skip
QUANTITIES = ("energy", "dE_dx", "dE_dq", "gibbs", "dG_dx", "dG_dq", "embeddings")


class CrossCheckError(ValueError):
    """A file that cannot be compared: malformed, incomplete, or for other inputs."""


def reference_model():
    """The model of the suite: default architecture with r_c = 5 Å, every weight and bias
    random (seeded), per-species offsets and scales set, the prior on, references set."""
    config = ModelConfig(species=("Cu", "O"), cutoff=5.0, n_features=16, n_filters=16, n_rbf=12, n_interactions=3)
    model = init_model(config, seed=2025, mu_ref={"Cu": -4.1, "O": -4.9}, provenance={"purpose": "refgc reference suite"})
    rng = np.random.default_rng(2025)
    for name, value in model.params.items():
        model.params[name] = value + 0.2 * rng.standard_normal(value.shape)
    model.params["offset"] = np.array([-3.9, -4.6])
    model.params["scale"] = np.array([0.8, 1.3])
    return model


def _cases(rc):
    """(name, description, atoms, q, mu, n_template)."""
    rng = np.random.default_rng(7)
    cases = []
    cluster = Atoms("CuO3", positions=[[0, 0, 0], [1.82, 0, 0], [-0.75, 1.7, 0.2], [-1.1, -1.55, -0.3]])
    cases.append(("cluster_full", "CuO3 cluster, no cell, all q = 1", cluster, [1, 1, 1, 1], {}, 4))
    extra = cluster + Atoms("O", positions=[[0.9, 0.3, 1.6]])
    for q, tag in ((0.0, "absent"), (0.5, "half")):
        cases.append((f"cluster_extra_{tag}", f"CuO3 + one O candidate at q = {q}", extra, [1, 1, 1, 1, q], {"O": -1.2}, 4))
    slab = fcc110("Cu", (2, 2, 3), a=3.61, vacuum=6.0)
    slab.rattle(0.05, seed=1)
    cases.append(("slab_full", "Cu(110) slab, pbc (T, T, F), all q = 1", slab, np.ones(len(slab)), {}, len(slab)))
    top = slab.positions[:, 2].max()
    pts = np.c_[rng.uniform(0, 1, (6, 2)) @ slab.cell[:2, :2], top + rng.uniform(0.9, 2.8, 6)]
    cands = slab + Atoms("OOCuOCuO", positions=pts)
    q = np.r_[np.ones(len(slab)), [0.0, 0.5, 1.0, 0.23, 0.77, 0.5]]
    cases.append(("slab_candidates", "slab + 6 candidates with q = 0, ½, 1 and others; Δμ for both",
                  cands, q, {"O": -0.8, "Cu": 0.3}, len(slab)))
    cu = bulk("Cu", "fcc", a=3.61)
    cu.positions += 0.03
    cases.append(("bulk_one_atom", "1-atom fcc cell: the atom meets dozens of its own images", cu, [0.6], {}, 0))
    tri = Atoms("CuO", positions=[[0, 0, 0], [1.1, 0.9, 1.4]], cell=[[2.6, 0, 0], [0.5, 2.4, 0], [0, 0.3, 2.9]], pbc=True)
    cases.append(("triclinic_small", "2-atom triclinic cell smaller than the cutoff", tri, [1.0, 0.35], {"O": -0.5}, 1))
    near = Atoms("CuOCuO", positions=[[0, 0, 0], [rc - 5e-4, 0, 0], [0, rc + 5e-4, 0], [0.3, 0.2, rc - 1e-4]])
    cases.append(("near_cutoff", "pairs within 1e-3 Å of the cutoff, on both sides", near, [1, 0.7, 0.4, 0.9], {"O": -1.0}, 1))
    close = Atoms("CuOO", positions=[[0, 0, 0], [0.9, 0.1, 0], [1.3, 0.5, 0.2]])
    cases.append(("prior_overlap", "candidates inside the repulsive prior's radius", close, [1, 0.6, 0.3], {"O": -1.0}, 1))
    same = Atoms("CuOO", positions=[[0, 0, 0], [1.9, 0, 0], [1.9, 0, 0]])
    cases.append(("coincident", "two candidates exactly on top of each other (d = 0: zero, not NaN, gradient)",
                  same, [1, 0.5, 0.5], {"O": -1.0}, 1))
    mixed = slab + Atoms("O2", positions=[[1.3, 1.8, top + 1.2], [1.3, 1.8, top + 1.2 + 0.35]])
    cases.append(("slab_stacked_candidates", "slab + two O candidates 0.35 Å apart (prior) at q = 1 and 0",
                  mixed, np.r_[np.ones(len(slab)), 1.0, 0.0], {"O": -2.0}, len(slab)))
    cases.append(("cluster_all_half", "every atom of a cluster at q = ½ (no template)", extra, np.full(5, 0.5), {"O": 0.4}, 0))
    return cases


def reference_suite(model=None):
    """The suite as a dict (the JSON document), computed with ``model`` (default the reference model)."""
    model = reference_model() if model is None else model
    cases = []
    for name, description, atoms, q, mu, n_t in _cases(model.config.cutoff):
        q = np.asarray(q, dtype=float)
        E_t = energy(model, atoms[:n_t], np.ones(n_t)) if n_t else 0.0
        E, dE_dx, dE_dq = energy_and_gradients(model, atoms, q)
        G, dG_dx, dG_dq = gibbs_free_energy(model, atoms, q, mu, n_t, template_energy=E_t)
        cases.append({
            "name": name, "description": description,
            "input": {"symbols": atoms.get_chemical_symbols(), "positions": atoms.positions.tolist(),
                      "cell": atoms.cell[:].tolist(), "pbc": [bool(p) for p in atoms.pbc], "q": q.tolist(),
                      "mu": mu, "n_template": n_t, "template_energy": E_t},
            "output": {"energy": E, "dE_dx": dE_dx.tolist(), "dE_dq": dE_dq.tolist(), "gibbs": G,
                       "dG_dx": dG_dx.tolist(), "dG_dq": dG_dq.tolist(),
                       "embeddings": [h.tolist() for h in embeddings(model, atoms, q)]},
        })  # fmt: skip
    return {"format": FORMAT, "version": VERSION, "refgc_version": __version__, "model": "model.npz",
            "model_sha256": parameters_digest(model.params), "tolerances": TOLERANCES, "cases": cases}


def write_reference(folder, model=None):
    """Write ``reference.json`` and ``model.npz`` to ``folder``; returns the JSON path."""
    model = reference_model() if model is None else model
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_model(model, folder / "model.npz")
    path = folder / "reference.json"
    path.write_text(json.dumps(reference_suite(model), indent=1))
    return path


def load_document(path):
    """A reference-format JSON file as a dict; ``CrossCheckError`` if it is not one."""
    try:
        doc = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise CrossCheckError(f"{path}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CrossCheckError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("cases"), list):
        raise CrossCheckError(f"{path}: expected a JSON object with a list 'cases' (see the README's schema)")
    for k, case in enumerate(doc["cases"]):
        if not isinstance(case, dict) or not isinstance(case.get("name"), str) or not isinstance(case.get("output"), dict):
            raise CrossCheckError(f"{path}: case {k} needs a 'name' (string) and an 'output' (object)")
    return doc


def _as_array(value, where):
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise CrossCheckError(f"{where} is not a number or a (nested) list of numbers of one shape") from None
    return array


def compare(theirs, reference, tolerances=None):
    """Rows (case, quantity, max_abs, max_rel, passed, ratio) for every case and quantity of
    ``reference`` (a dict); ``ratio`` = max |err| / (atol + rtol·|ours|), ≤ 1 when passed.
    Missing cases or quantities are failures (nan errors, infinite ratio)."""
    tolerances = {**TOLERANCES, **(tolerances or {})}
    by_name = {case["name"]: case for case in theirs["cases"]}
    rows = []
    for ref in reference["cases"]:
        name = ref["name"]
        mine = by_name.get(name)
        if mine is None:
            rows.append((name, "(case missing)", np.nan, np.nan, False, np.inf))
            continue
        if "input" in mine and mine["input"] != ref["input"]:
            rows.append((name, "(input differs from the reference)", np.nan, np.nan, False, np.inf))
            continue
        for quantity in QUANTITIES:
            if quantity not in mine["output"]:
                rows.append((name, quantity + " (missing)", np.nan, np.nan, False, np.inf))
                continue
            ours_q, theirs_q = ref["output"][quantity], mine["output"][quantity]
            rtol, atol = tolerances[quantity]
            if quantity == "embeddings":  # one check per layer, so the first departing layer shows
                pairs = [(f"embeddings[{k}]", a, b) for k, (a, b) in enumerate(zip(ours_q, theirs_q))]
                if len(ours_q) != len(theirs_q):
                    pairs.append(("embeddings (number of layers)", [len(ours_q)], [len(theirs_q)]))
            else:
                pairs = [(quantity, ours_q, theirs_q)]
            for label, a, b in pairs:
                a, b = np.asarray(a, dtype=float), _as_array(b, f"case {name!r}, {label}")
                if a.shape != b.shape:
                    rows.append((name, f"{label} (shape {b.shape}, expected {a.shape})", np.nan, np.nan, False, np.inf))
                    continue
                err = np.abs(b - a)
                max_abs = float(err.max(initial=0.0))
                max_rel = float((err / np.maximum(np.abs(a), 1e-8)).max(initial=0.0))
                ratio = float((err / (atol + rtol * np.abs(a))).max(initial=0.0))  # ≤ 1: within tolerance
                passed = bool(np.all(np.isfinite(b)) and ratio <= 1.0)
                rows.append((name, label, max_abs, max_rel, passed, ratio))
    return rows


"""Cross-check kit: reference vectors another implementation can reproduce, and a comparer.

``reference_suite()`` builds a versioned set of cases that exercise every convention of
the method: clusters and periodic slabs, cells so small that an atom meets its own
images (and one where the repulsive prior acts between an atom and its own image), pairs
within 1e-3 Å of the cutoff, existences 0, ½ and 1, candidates inside the repulsive
prior's range and exactly on top of each other. For each case it records the energy, its
gradients, ΔG and its gradients at a stated Δμ, and the embeddings of every layer, so
another code can find the first layer where it departs.

The cases use three models, so that one architecture cannot hide a convention: ``model.npz``
(species Cu, O; A = F = 16 features and filters; ssp read-out), ``model_silu.npz``
(species O, Cu in that order; A = 12 features ≠ F = 20 filters; silu read-out; its own
cutoff, prior radius scale and ``mu_ref``) and ``model_floor.npz`` (the network's distance
floor at s_f = 0.7, with pairs on both sides of it). Each case names its model file.

JSON schema (``format`` = ``"refgc-reference"``, ``version`` = 3; floats are written with
Python's ``repr``, so every float64 survives the round trip exactly)::

    {"format": "refgc-reference", "version": 3, "refgc_version": "...",
     "models": {"model.npz": {"sha256": "...", "description": "..."},
                "model_silu.npz": {"sha256": "...", "description": "..."},
                "model_floor.npz": {"sha256": "...", "description": "..."}},
     "tolerances": {quantity: [rtol, atol]},
     "cases": [{"name": "...", "description": "...", "model": "model.npz",
                "input": {"symbols": [...], "positions": [[x, y, z], ...] (Å),
                          "cell": [[...], [...], [...]] (Å), "pbc": [bool, bool, bool],
                          "q": [...], "mu": {symbol: Δμ eV}, "n_template": int,
                          "template_energy": eV},
                "output": {"embeddings": [h⁰, h¹, ..., h^T], each [[...]] (N × A),
                           "energy": eV, "dE_dx": [[...]] (eV/Å), "dE_dq": [...] (eV),
                           "gibbs": eV, "dG_dx": [[...]], "dG_dq": [...]}}]}

``sha256`` is :func:`refgc.modelfile.parameters_digest` of the model's parameters.
Versions 1 (one model, a top-level ``model`` / ``model_sha256``) and 2 (two models) are
refused with a message to regenerate: their cases are the first twelve and the first 21 of
version 3, with the same numbers.

An implementation under test writes the same file with its own ``output`` for every
case. ``format`` and ``version`` are required and must be these; ``input``, ``model`` (per
case) and ``models`` may be left out, and where present must equal the reference's (a
``models`` digest that differs means the outputs come from another model: refused).
Case names must be unique, in both files. :func:`compare` reports, per case and
quantity, the largest absolute and relative error and whether
``|theirs − ours| ≤ atol + rtol·|ours|`` holds everywhere (the tolerances in
:data:`TOLERANCES`; relative errors are taken against ``max(|ours|, 1e-8)``). Rows come
in causal order, embeddings layer by layer first, so :func:`first_departures` (the first
failing row of each case) names where an implementation starts to differ, not what
follows from it.
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

__all__ = ["reference_model", "reference_model_silu", "reference_model_floor", "reference_models", "reference_suite", "write_reference",
           "load_document", "compare", "first_departures", "describe", "TOLERANCES", "CrossCheckError"]

FORMAT, VERSION = "refgc-reference", 3
TOLERANCES = {  # (rtol, atol): float64 implementations agree to ~1e-12; these leave room for summation order
    "energy": (1e-10, 1e-10), "gibbs": (1e-10, 1e-10),
    "dE_dx": (1e-8, 1e-10), "dE_dq": (1e-8, 1e-10), "dG_dx": (1e-8, 1e-10), "dG_dq": (1e-8, 1e-10),
    "embeddings": (1e-8, 1e-10),
}  # fmt: skip
QUANTITIES = ("embeddings", "energy", "dE_dx", "dE_dq", "gibbs", "dG_dx", "dG_dq")  # causal order: h^t → E → ΔG
SILU_CASES = ("cluster_extra_half", "slab_candidates", "triclinic_small", "near_cutoff", "prior_overlap",
              "coincident", "cluster_all_half", "self_image_prior")  # geometries re-run with the further models


class CrossCheckError(ValueError):
    """A file that cannot be compared: malformed, incomplete, or for other inputs."""


def _perturbed(model, seed, offset, scale):
    """Every weight and bias random (seeded), not the zero biases of a fresh model."""
    rng = np.random.default_rng(seed)
    for name, value in model.params.items():
        model.params[name] = value + 0.2 * rng.standard_normal(value.shape)
    model.params["offset"] = np.array(offset)
    model.params["scale"] = np.array(scale)
    return model


def reference_model():
    """The suite's first model, ``model.npz``: default architecture with r_c = 5 Å, every
    weight and bias random (seeded), per-species offsets and scales set, the prior on,
    references set."""
    config = ModelConfig(species=("Cu", "O"), cutoff=5.0, n_features=16, n_filters=16, n_rbf=12, n_interactions=3)
    model = init_model(config, seed=2025, mu_ref={"Cu": -4.1, "O": -4.9}, provenance={"purpose": "refgc reference suite"})
    return _perturbed(model, 2025, [-3.9, -4.6], [0.8, 1.3])


def reference_model_silu():
    """The suite's second model, ``model_silu.npz``: what the first cannot tell apart.
    A = 12 features ≠ F = 20 filters (a swap of the two changes every shape), a silu
    read-out, species in the order (O, Cu) (the embedding is indexed by that order, not
    by Z), and its own cutoff, prior radius scale and ``mu_ref``."""
    config = ModelConfig(species=("O", "Cu"), cutoff=4.5, n_features=12, n_filters=20, n_rbf=10, n_interactions=2,
                         prior_radius_scale=0.7, readout_activation="silu")
    model = init_model(config, seed=2026, mu_ref={"O": -4.7, "Cu": -3.8},
                       provenance={"purpose": "refgc reference suite, second model"})
    return _perturbed(model, 2026, [-4.4, -3.7], [1.1, 0.9])


def reference_model_floor():
    """The suite's third model, ``model_floor.npz``: the network's distance floor at s_f = 0.7
    (Cu–Cu 1.85 Å, Cu–O 1.39 Å, O–O 0.92 Å), which the cases' close pairs (the prior's
    overlap, coincident candidates, the Cu chain's images) are inside and the others outside."""
    config = ModelConfig(species=("Cu", "O"), cutoff=5.0, n_features=16, n_filters=16, n_rbf=12, n_interactions=2,
                         prior_strength=50.0, prior_radius_scale=0.75, floor_radius_scale=0.7)
    model = init_model(config, seed=2027, mu_ref={"Cu": -4.0, "O": -4.8},
                       provenance={"purpose": "refgc reference suite, third model"})
    return _perturbed(model, 2027, [-3.8, -4.5], [0.9, 1.2])


def reference_models():
    """File name → model, in the order the suite uses them."""
    return {"model.npz": reference_model(), "model_silu.npz": reference_model_silu(),
            "model_floor.npz": reference_model_floor()}


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
    chain = Atoms("CuO", positions=[[0.1, 0, 0], [0.8, 1.7, 0.3]], cell=[1.45, 8.0, 8.0], pbc=(True, False, False))
    cases.append(("self_image_prior", "Cu chain of period 1.45 Å, inside the Cu–Cu prior radius (1.58 Å at scale 0.6): "
                  "the prior acts between the Cu and its own images (weight q_Cu²); an O beside it", chain, [0.8, 0.6], {"O": -0.7}, 0))
    return cases


def _case_list(models):
    """(model file, name, description, atoms, q, mu, n_template) of every case: the first
    model's cases, then the geometries of :data:`SILU_CASES` with every further model."""
    (first, model), *others = models.items()
    out = [(first, *case) for case in _cases(model.config.cutoff)]
    for file, model in others:
        tag = Path(file).stem.removeprefix("model_")
        for name, description, *rest in _cases(model.config.cutoff):
            if name in SILU_CASES:
                out.append((file, f"{tag}_{name}", f"{file}: {description}", *rest))
    return out


def _evaluate(model, atoms, q, mu, n_t):
    """The ``template_energy`` and ``output`` of one case, every float a Python float."""
    E_t = float(energy(model, atoms[:n_t], np.ones(n_t))) if n_t else 0.0
    E, dE_dx, dE_dq = energy_and_gradients(model, atoms, q)
    G, dG_dx, dG_dq = gibbs_free_energy(model, atoms, q, mu, n_t, template_energy=E_t)
    return E_t, {"embeddings": [np.asarray(h, dtype=float).tolist() for h in embeddings(model, atoms, q)],
                 "energy": float(E), "dE_dx": dE_dx.tolist(), "dE_dq": dE_dq.tolist(),
                 "gibbs": float(G), "dG_dx": dG_dx.tolist(), "dG_dq": dG_dq.tolist()}


def reference_suite(models=None):
    """The suite as a dict (the JSON document), computed with ``models`` (file name → model;
    default :func:`reference_models`)."""
    models = reference_models() if models is None else dict(models)
    cases = []
    for file, name, description, atoms, q, mu, n_t in _case_list(models):
        q = np.asarray(q, dtype=float)
        E_t, output = _evaluate(models[file], atoms, q, mu, n_t)
        cases.append({
            "name": name, "description": description, "model": file,
            "input": {"symbols": atoms.get_chemical_symbols(), "positions": atoms.positions.tolist(),
                      "cell": atoms.cell[:].tolist(), "pbc": [bool(p) for p in atoms.pbc], "q": q.tolist(),
                      "mu": mu, "n_template": n_t, "template_energy": E_t},
            "output": output,
        })  # fmt: skip
    described = {file: _describe_model(m) for file, m in models.items()}
    return {"format": FORMAT, "version": VERSION, "refgc_version": __version__,
            "models": {file: {"sha256": parameters_digest(m.params), "description": described[file]}
                       for file, m in models.items()},
            "tolerances": {k: list(v) for k, v in TOLERANCES.items()}, "cases": cases}


def _describe_model(model):
    c = model.config
    return (f"species {list(c.species)}, A = {c.n_features} features, F = {c.n_filters} filters, K = {c.n_rbf}, "
            f"T = {c.n_interactions}, r_c = {c.cutoff} Å, {c.readout_activation} read-out"
            + (f", distance floor s_f = {c.floor_radius_scale}" if c.floor_radius_scale else ""))


def write_reference(folder, models=None):
    """Write ``reference.json`` and every model file (``model.npz``, ``model_silu.npz``, ``model_floor.npz``) to
    ``folder``; returns the JSON path."""
    models = reference_models() if models is None else dict(models)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for file, model in models.items():
        save_model(model, folder / file)
    path = folder / "reference.json"
    path.write_text(json.dumps(reference_suite(models), indent=1))
    return path


def check_document(doc, where):
    """Raise ``CrossCheckError`` unless ``doc`` is a version-3 reference-format dict with
    uniquely named cases."""
    if not isinstance(doc, dict):
        raise CrossCheckError(f"{where}: expected a JSON object (see the schema in docs/crosscheck.md)")
    if doc.get("format") != FORMAT:
        raise CrossCheckError(f"{where}: 'format' is {doc.get('format')!r}, expected {FORMAT!r}")
    if doc.get("version") in (1, 2):
        raise CrossCheckError(f"{where}: version {doc['version']} ({'one model' if doc['version'] == 1 else 'two models'}) "
                              f"is no longer compared; regenerate the reference with `refgc reference --out DIR` "
                              f"(version {VERSION}: three models, each case names its model file) and evaluate its "
                              "cases again")
    if doc.get("version") != VERSION:
        raise CrossCheckError(f"{where}: 'version' is {doc.get('version')!r}, expected {VERSION}")
    if not isinstance(doc.get("cases"), list):
        raise CrossCheckError(f"{where}: expected a list 'cases' (see the schema in docs/crosscheck.md)")
    seen = set()
    for k, case in enumerate(doc["cases"]):
        if not isinstance(case, dict) or not isinstance(case.get("name"), str) or not isinstance(case.get("output"), dict):
            raise CrossCheckError(f"{where}: case {k} needs a 'name' (string) and an 'output' (object)")
        if case["name"] in seen:
            raise CrossCheckError(f"{where}: case name {case['name']!r} appears more than once; names must be unique")
        seen.add(case["name"])
    if "models" in doc and not (isinstance(doc["models"], dict) and all(
            isinstance(m, dict) and isinstance(m.get("sha256"), str) for m in doc["models"].values())):
        raise CrossCheckError(f"{where}: 'models' must map each model file to {{\"sha256\": \"...\"}}")


def load_document(path):
    """A reference-format JSON file as a dict; ``CrossCheckError`` if it is not one."""
    try:
        doc = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise CrossCheckError(f"{path}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CrossCheckError(f"{path}: not valid JSON ({err})") from None
    check_document(doc, str(path))
    return doc


def _as_array(value, where):
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise CrossCheckError(f"{where} is not a number or a (nested) list of numbers of one shape") from None
    return array


def _check_models(theirs, reference):
    """Their ``models`` digests, where given, must be the reference's."""
    ours = reference.get("models", {})
    for file, entry in theirs.get("models", {}).items():
        if file not in ours:
            raise CrossCheckError(f"their file names a model {file!r} the reference does not have ({sorted(ours)})")
        if entry["sha256"] != ours[file]["sha256"]:
            raise CrossCheckError(f"their {file} has sha256 {entry['sha256'][:12]}…, the reference's is "
                                  f"{ours[file]['sha256'][:12]}…: outputs of another model")


def compare(theirs, reference, tolerances=None):
    """Rows (case, quantity, max_abs, max_rel, passed, ratio) for every case and quantity of
    ``reference`` (a dict), in causal order (embeddings layer by layer, then E, ΔG and
    their gradients); ``ratio`` = ``max |err| / (atol + rtol·|ours|)``, ≤ 1 when passed.
    Missing cases or quantities are failures (nan errors, infinite ratio). Raises
    ``CrossCheckError`` for a malformed file, another format or version, duplicate case
    names, or another model's digest."""
    check_document(theirs, "their file")
    check_document(reference, "the reference")
    _check_models(theirs, reference)
    tolerances = {**TOLERANCES, **(tolerances or {})}
    by_name = {case["name"]: case for case in theirs["cases"]}
    rows = []
    for ref in reference["cases"]:
        name = ref["name"]
        mine = by_name.get(name)
        if mine is None:
            rows.append((name, "(case missing)", np.nan, np.nan, False, np.inf))
            continue
        if "model" in mine and mine["model"] != ref.get("model"):
            rows.append((name, f"(model {mine['model']!r}, expected {ref.get('model')!r})", np.nan, np.nan, False, np.inf))
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
                if not isinstance(theirs_q, list):
                    raise CrossCheckError(f"case {name!r}, embeddings is not a list of layers")
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


def first_departures(rows):
    """Case → its first failing row. Rows are in causal order, so this is where the
    implementation starts to differ: a wrong h² makes E, ΔG and every gradient wrong too."""
    first = {}
    for row in rows:
        if not row[4]:
            first.setdefault(row[0], row)
    return first


def describe(label):
    """A row's quantity in words: ``"embeddings[2]"`` → ``"embeddings layer 2 (h²)"``."""
    if label.startswith("embeddings[") and "]" in label:
        k, rest = label[len("embeddings["):].split("]", 1)
        return f"embeddings layer {k} (h{k.translate(str.maketrans('0123456789', '⁰¹²³⁴⁵⁶⁷⁸⁹'))}){rest}"
    return label

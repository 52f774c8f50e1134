# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 6. Cross-checking another implementation of the existence SchNet
#
# You have written the existence SchNet in another framework (PyTorch, JAX, inside AGOX,
# ...) and want to prove that it computes what refgc computes: the energy, its gradients
# in positions **and existences**, the Gibbs free energy, and every layer's embeddings.
# refgc ships a cross-check kit for exactly this:
#
# 1. `refgc reference --out ref/` writes a suite of cases (`reference.json`) and the three
#    model files they were computed with (`ref/model.npz`, `ref/model_silu.npz`,
#    `ref/model_floor.npz`; each case names its model);
# 2. your code loads the model file, evaluates every case, and writes the same JSON schema;
# 3. `refgc compare yours.json --reference ref/` reports the largest error per case and
#    quantity and exits non-zero if any exceeds the documented tolerance.
#
# Here the "other implementation" is `torch_schnet.py` next to this tutorial: a compact
# PyTorch version with SchNetPack 2's parameter names, written independently of refgc
# (its own neighbour list, torch autograd). The tutorial needs torch; without it, it says so
# and stops. `REFGC_FIGURES` sets the output folder (default `figures/`).

# %%
import copy
import importlib.util
import json
import os
import sys
from pathlib import Path

SKIP = importlib.util.find_spec("torch") is None
if SKIP:
    print("REFGC-TUTORIAL-SKIPPED: torch is not installed (pip install '.[torch]')")
    sys.exit(0)

import matplotlib  # noqa: E402

matplotlib.use(os.environ.get("MPLBACKEND", "Agg"))
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from ase import Atoms  # noqa: E402

import refgc  # noqa: E402
from refgc.crosscheck import compare, describe, first_departures, load_document, write_reference  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()))
import torch_schnet  # noqa: E402

FIGURES = Path(os.environ.get("REFGC_FIGURES", "figures"))
WORK = FIGURES / "06_cross_check"
WORK.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## 1. The reference suite
#
# Cases each chosen to catch one kind of mistake: a cluster without a cell; slabs; a
# one-atom cell whose atom meets dozens of its own periodic images; a chain so short that the
# repulsive prior acts between an atom and its own image; pairs within 1e-3 Å of the cutoff
# on both sides; candidates at q = 0, ½ and 1; candidates inside the prior's range, and two
# exactly on top of each other (d = 0 must give a zero, not a NaN, gradient). The `silu_`
# cases repeat some geometries with a second model (features ≠ filters, a silu read-out,
# species in another order), so that a swapped dimension or a wrong read-out cannot pass.
# The `floor_` cases repeat them with a third model that has the network's distance floor,
# with pairs inside it and just outside.

# %%
reference_path = write_reference(WORK / "ref")
reference = load_document(reference_path)
models = {file: refgc.load_model(WORK / "ref" / file) for file in reference["models"]}
for case in reference["cases"]:
    print(f"{case['name']:<28} {case['model']:<15} {case['description']}")

# %% [markdown]
# ## 2. Load refgc's model file into the PyTorch implementation
#
# The conventions an implementer must match are listed in docs/crosscheck.md ("Implementing the
# model elsewhere"). Loading the weights shows three of them: refgc stores Dense weights
# (in, out), PyTorch (out, in), so every weight is transposed; refgc's embedding is indexed
# by the position of the element in `species`, SchNetPack's by atomic number; refgc's
# per-species `scale` and `offset` become the per-element read-out scale and atom reference
# (`torch_schnet.from_refgc` does this in a dozen lines).

# %%

nets = {file: torch_schnet.from_refgc(model) for file, model in models.items()}  # see torch_schnet.py
for file, net in nets.items():
    print(f"PyTorch model for {file}: {sum(p.numel() for p in net.parameters())} parameters")

# %% [markdown]
# ## 3. Evaluate every case and write the JSON
#
# For each case: E, ∂E/∂x and ∂E/∂q from torch autograd, the embeddings of every layer, and
# $\Delta G = E - E_\mathrm{template} - \sum_{i \in \mathrm{candidates}} q_i (\mu^\mathrm{ref}_{Z_i} + \Delta\mu_{Z_i})$ with its gradients
# ($\partial \Delta G / \partial q_i = \partial E / \partial q_i - \mu_{Z_i}$ for candidates).


# %%
def evaluate_suite(nets, reference):
    cases = []
    for case in reference["cases"]:
        inp, net, model = case["input"], nets[case["model"]], models[case["model"]]
        atoms = Atoms(inp["symbols"], positions=inp["positions"], cell=inp["cell"], pbc=inp["pbc"])
        q = np.array(inp["q"])
        E, dE_dx, dE_dq, layers = net.energy_and_gradients(atoms, q, embeddings=True)
        n_t = inp["n_template"]
        mu = np.array([model.mu_ref[s] + inp["mu"].get(s, 0.0) for s in inp["symbols"][n_t:]])
        dG_dq = dE_dq.copy()
        dG_dq[n_t:] -= mu
        cases.append({"name": case["name"], "model": case["model"], "output": {
            "energy": E, "dE_dx": dE_dx.tolist(), "dE_dq": dE_dq.tolist(),
            "gibbs": E - inp["template_energy"] - float(q[n_t:] @ mu), "dG_dx": dE_dx.tolist(), "dG_dq": dG_dq.tolist(),
            "embeddings": [h.tolist() for h in layers]}})  # fmt: skip
    # the digests say which model files these outputs come from: compare refuses others
    return {"format": "refgc-reference", "version": 3, "models": reference["models"], "cases": cases}


theirs = evaluate_suite(nets, reference)
torch_file = WORK / "torch.json"
torch_file.write_text(json.dumps(theirs))
print(f"PyTorch's results written to {torch_file}")

# %% [markdown]
# ## 4. Compare
#
# The same as `refgc compare figures/06_cross_check/torch.json --reference
# figures/06_cross_check/ref` on the command line.

# %%
rows = compare(theirs, reference)
failed = [r for r in rows if not r[4]]
worst = max(rows, key=lambda r: r[2])
print(f"{len(rows)} checks, {len(failed)} failed; largest absolute error {worst[2]:.1e} ({worst[0]}, {worst[1]})")
assert not failed

# %% [markdown]
# ## 5. What a bug looks like
#
# A classic porting mistake: the plain softplus ln(1 + eˣ) instead of SchNet's *shifted*
# softplus ln(1 + eˣ) − ln 2. Energies can still look plausible, but the kit pinpoints it:
# the rows come in causal order (h⁰, h¹, …, then E, ΔG and their gradients), and the first
# to fail in every case is the embedding of layer 1 (the first place where the softplus is
# used), while layer 0, the plain embedding lookup, still agrees. `refgc compare` prints
# the same on stderr, e.g. `case cluster_full: first departs at embeddings layer 1 (h¹)`.

# %%
correct_ssp = torch_schnet.ssp
torch_schnet.ssp = lambda x: correct_ssp(x) + torch_schnet.LN2  # the bug: no shift
buggy = evaluate_suite(nets, reference)
torch_schnet.ssp = correct_ssp
buggy_rows = compare(buggy, reference)
first_failures = {case: row[1] for case, row in first_departures(buggy_rows).items()}
print("where each case first departs:", sorted(set(first_failures.values())))
assert set(first_failures.values()) == {"embeddings[1]"} and len(first_failures) == len(reference["cases"])
assert all(r[4] for r in buggy_rows if r[1] == "embeddings[0]")

# %% [markdown]
# A second one: SchNetPack's `Atomwise` read-out uses SiLU, refgc's default ssp, and a
# state dict does not say which. A port that always uses ssp passes every case of the ssp
# model, and fails every case of the silu model, where every embedding agrees and the
# energy is the first thing to depart.

# %%
silu_net = nets["model_silu.npz"]
silu_net.act = torch_schnet.ssp  # the bug: the model file's read-out activation ignored
readout_bug = first_departures(compare(evaluate_suite(nets, reference), reference))
silu_net.act = torch_schnet.ACTIVATIONS["silu"]
print({case: describe(row[1]) for case, row in readout_bug.items()})
assert set(readout_bug) == {c["name"] for c in reference["cases"] if c["model"] == "model_silu.npz"}
assert {row[1] for row in readout_bug.values()} == {"energy"}

# %%
fig, ax = plt.subplots(figsize=(9, 4))
names = [c["name"] for c in reference["cases"]]
for label, table, marker in (("PyTorch twin", rows, "o"), ("with the softplus bug", buggy_rows, "x")):
    worst_per_case = [max(r[5] for r in table if r[0] == n) for n in names]
    ax.semilogy(range(len(names)), np.maximum(worst_per_case, 1e-18), marker, label=label)
ax.axhline(1.0, c="0.5", ls="--", label="tolerance: |err| = atol + rtol·|ref|")
ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
ax.set_ylabel("largest error / tolerance")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(FIGURES / "06_cross_check.png", dpi=120)
print("figure written to", FIGURES / "06_cross_check.png")

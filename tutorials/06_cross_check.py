# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 6. Cross-checking another implementation of the existence SchNet
#
# You have written the existence SchNet in another framework (PyTorch, JAX, inside AGOX,
# ...) and want to prove that it computes what refgc computes: the energy, its gradients
# in positions **and existences**, the Gibbs free energy, and every layer's embeddings.
# refgc ships a cross-check kit for exactly this:
#
# 1. `refgc reference --out ref/` writes a suite of cases (`reference.json`) and the model
#    file they were computed with (`ref/model.npz`);
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
from refgc.crosscheck import compare, load_document, write_reference  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()))
import torch_schnet  # noqa: E402

FIGURES = Path(os.environ.get("REFGC_FIGURES", "figures"))
WORK = FIGURES / "06_cross_check"
WORK.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## 1. The reference suite
#
# Twelve cases, each chosen to catch one kind of mistake: a cluster without a cell; slabs;
# a one-atom cell whose atom meets dozens of its own periodic images; pairs within 1e-3 Å of
# the cutoff on both sides; candidates at q = 0, ½ and 1; candidates inside the repulsive
# prior's range, and two exactly on top of each other (d = 0 must give a zero, not a NaN,
# gradient).

# %%
reference_path = write_reference(WORK / "ref")
reference = load_document(reference_path)
model = refgc.load_model(WORK / "ref" / "model.npz")
for case in reference["cases"]:
    print(f"{case['name']:<26} {case['description']}")

# %% [markdown]
# ## 2. Load refgc's model file into the PyTorch implementation
#
# The conventions an implementer must match are listed in the README ("Implementing the
# model elsewhere"). Loading the weights shows three of them: refgc stores Dense weights
# (in, out), PyTorch (out, in), so every weight is transposed; refgc's embedding is indexed
# by the position of the element in `species`, SchNetPack's by atomic number; refgc's
# per-species `scale` and `offset` become the per-element read-out scale and atom reference
# (`torch_schnet.from_refgc` does this in a dozen lines).

# %%

net = torch_schnet.from_refgc(model)  # see torch_schnet.py
print(f"PyTorch model: {sum(p.numel() for p in net.parameters())} parameters")

# %% [markdown]
# ## 3. Evaluate every case and write the JSON
#
# For each case: E, ∂E/∂x and ∂E/∂q from torch autograd, the embeddings of every layer, and
# ΔG = E − E_template − Σ_candidates q_i (μ_ref + Δμ) with its gradients
# (∂ΔG/∂q_i = ∂E/∂q_i − μ_i for candidates).


# %%
def evaluate_suite(net, reference):
    cases = []
    for case in reference["cases"]:
        inp = case["input"]
        atoms = Atoms(inp["symbols"], positions=inp["positions"], cell=inp["cell"], pbc=inp["pbc"])
        q = np.array(inp["q"])
        E, dE_dx, dE_dq, layers = net.energy_and_gradients(atoms, q, embeddings=True)
        n_t = inp["n_template"]
        mu = np.array([model.mu_ref[s] + inp["mu"].get(s, 0.0) for s in inp["symbols"][n_t:]])
        dG_dq = dE_dq.copy()
        dG_dq[n_t:] -= mu
        cases.append({"name": case["name"], "output": {
            "energy": E, "dE_dx": dE_dx.tolist(), "dE_dq": dE_dq.tolist(),
            "gibbs": E - inp["template_energy"] - float(q[n_t:] @ mu), "dG_dx": dE_dx.tolist(), "dG_dq": dG_dq.tolist(),
            "embeddings": [h.tolist() for h in layers]}})  # fmt: skip
    return {"format": "refgc-reference", "version": 1, "cases": cases}


theirs = evaluate_suite(net, reference)
(WORK / "torch.json").write_text(json.dumps(theirs))

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
# the first quantity to fail in every case is the embedding of layer 1 (the first place
# where the softplus is used), while layer 0, the plain embedding lookup, still agrees.

# %%
correct_ssp = torch_schnet.ssp
torch_schnet.ssp = lambda x: correct_ssp(x) + torch_schnet.LN2  # the bug: no shift
buggy = evaluate_suite(net, reference)
torch_schnet.ssp = correct_ssp
buggy_rows = compare(buggy, reference)
first_failures = {}
for case, quantity, _, _, passed, _ in buggy_rows:
    if not passed and case not in first_failures and quantity.startswith("embeddings"):
        first_failures[case] = quantity
print("first failing embedding layer per case:", sorted(set(first_failures.values())))
assert set(first_failures.values()) == {"embeddings[1]"}
assert all(r[4] for r in buggy_rows if r[1] == "embeddings[0]")

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
print("figure written to", (FIGURES / "06_cross_check.png").resolve())

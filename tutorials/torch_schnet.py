r"""The existence SchNet in PyTorch, in SchNetPack 2's layer layout: refgc's cross-check twin.

One class, :class:`ExistenceSchNet`, written independently of :mod:`refgc.schnet` (same
equations, different library, different neighbour list: ASE's ``neighbor_list``), so that
each checks the other. Its ``state_dict()`` is named like a SchNetPack 2 ``SchNet`` +
``Atomwise`` ``NeuralNetworkPotential``'s, with torch's (out, in) weights, so
:func:`refgc.schnetpack.from_schnetpack` imports it as it would a SchNetPack model.

With A features, F filters, K radial functions, T blocks, and each atom's existence
:math:`q_i \in [0, 1]`:

.. math::

    e_k(d) &= \exp\!\big(-\tfrac12 ((d - \mu_k)/\sigma)^2\big), \quad
        \mu_k = \mathrm{linspace}(0, r_c, K),\ \sigma = r_c/(K-1) \\
    f_c(d) &= \tfrac12 (\cos(\pi d/r_c) + 1) \ \text{for}\ d < r_c, \ \text{else}\ 0 \\
    h_i^0 &= \mathrm{embedding}[Z_i] \\
    W_{ij} &= \mathrm{Dense}_{F\to F}(\mathrm{ssp}(\mathrm{Dense}_{K\to F}(e(d_{ij})))) \, f_c(d_{ij}) \\
    m_i &= \textstyle\sum_j q_j\, W_{ij} \odot \mathrm{in2f}(h_j) \\
    h_i &\leftarrow h_i + \mathrm{Dense}_{A\to A}(\mathrm{ssp}(\mathrm{Dense}_{F\to A}(m_i))) \\
    \varepsilon_i &= \mathrm{stddev}\cdot \mathrm{Dense}_{A/2\to 1}(\mathrm{act}(\mathrm{Dense}_{A\to A/2}(h_i^T)))
        + \mathrm{mean} + \mathrm{atomref}[Z_i] \\
    E &= \textstyle\sum_i q_i\, \varepsilon_i
        + \tfrac12 \sum_{i\ne j} q_i q_j\, A_{rep} (1 - d_{ij}/r_{ab})_+^3,
        \quad r_{ab} = s\,(R_{Z_i} + R_{Z_j})

(R: ASE's covalent radii.) At q = 1 and :math:`A_{rep} = 0` this is SchNetPack 2's SchNet
with an ``Atomwise`` read-out, ``ScaleProperty(stddev)`` and ``AddOffsets(mean, atomref)``.
Energies are in the model's own unit (the conversions are ``from_schnetpack``'s business).
"""

import math

import numpy as np
import torch
import torch.nn.functional as F
from ase.data import covalent_radii
from ase.neighborlist import neighbor_list
from torch import nn

LN2 = math.log(2.0)


def ssp(x):
    """Shifted softplus ln(1 + eˣ) − ln 2, exact for all x (torch's softplus returns x above 20)."""
    return torch.clamp(x, min=0.0) + torch.log1p(torch.exp(-x.abs())) - LN2


ACTIVATIONS = {"ssp": ssp, "silu": F.silu, "tanh": torch.tanh}


class ExistenceSchNet(nn.Module):
    """SchNet with existence-weighted messages and read-out, float64, SchNetPack 2 names.

    ``mean`` (energy per atom), ``stddev`` and ``atomrefs`` ({Z: energy}) are the
    ``AddOffsets`` / ``ScaleProperty`` statistics; like the repulsive prior
    (``prior_strength`` A_rep, ``prior_radius_scale`` s) and the network's distance floor
    (``floor_radius_scale`` s_f, 0 for none) they are settings, not part of the state dict.
    """

    def __init__(self, n_atom_basis=16, n_filters=12, n_rbf=8, n_interactions=2, cutoff=4.0,
                 readout_activation="ssp", mean=0.0, stddev=1.0, atomrefs=None, element_scales=None,
                 prior_strength=0.0, prior_radius_scale=0.6, floor_radius_scale=0.0, max_z=100):  # fmt: skip
        super().__init__()
        A, Fi, K, H = n_atom_basis, n_filters, n_rbf, max(1, n_atom_basis // 2)
        kw = dict(dtype=torch.float64)
        self.cutoff = float(cutoff)
        self.act = ACTIVATIONS[readout_activation]

        # representation.*: SchNetPack's SchNet (modules as plain containers)
        self.representation = rep = nn.Module()
        rep.embedding = nn.Embedding(max_z, A, **kw)  # row Z: h⁰ of element Z
        rep.radial_basis = nn.Module()
        rep.radial_basis.register_buffer("offsets", torch.linspace(0.0, cutoff, K, **kw))  # μ_k
        rep.radial_basis.register_buffer("widths", torch.full((K,), cutoff / (K - 1), **kw))  # σ
        rep.cutoff_fn = nn.Module()
        rep.cutoff_fn.register_buffer("cutoff", torch.tensor([cutoff], **kw))
        rep.interactions = nn.ModuleList(
            nn.ModuleDict({
                "in2f": nn.Linear(A, Fi, bias=False, **kw),
                "filter_network": nn.Sequential(nn.Linear(K, Fi, **kw), nn.Linear(Fi, Fi, **kw)),
                "f2out": nn.Sequential(nn.Linear(Fi, A, **kw), nn.Linear(A, A, **kw)),
            })
            for _ in range(n_interactions)
        )  # fmt: skip
        # output_modules.0: SchNetPack's Atomwise, build_mlp(A, 1, n_hidden=None, n_layers=2)
        self.output_modules = nn.ModuleList(
            [nn.ModuleDict({"outnet": nn.Sequential(nn.Linear(A, H, **kw), nn.Linear(H, 1, **kw))})]
        )

        # settings kept out of the state dict (persistent=False)
        refs = torch.zeros(max_z, **kw)
        for z, value in (atomrefs or {}).items():
            refs[z] = value
        self.register_buffer("atomref", refs, persistent=False)
        scales = torch.ones(max_z, **kw)  # per-element read-out scale (refgc's `scale`), 1 in SchNetPack
        for z, value in (element_scales or {}).items():
            scales[z] = value
        self.register_buffer("element_scale", scales, persistent=False)
        self.mean, self.stddev = float(mean), float(stddev)
        self.prior_strength, self.prior_radius_scale = float(prior_strength), float(prior_radius_scale)
        self.floor_radius_scale = float(floor_radius_scale)
        self.register_buffer("radii", torch.tensor(covalent_radii[:max_z], **kw), persistent=False)

    def forward(self, Z, positions, q, idx_i, idx_j, offsets, embeddings=False):
        """E(x, q) for one structure: ``Z`` (N,) long, ``positions`` (N, 3), ``q`` (N,),
        pairs ``idx_i``, ``idx_j`` (P,) long with ``offsets`` (P, 3) = S_ij · cell.
        ``embeddings=True``: (E, [h⁰, …, h^T])."""
        rep = self.representation
        r_ij = positions[idx_j] - positions[idx_i] + offsets  # (P, 3)
        r2 = (r_ij**2).sum(dim=1)
        apart = r2 > 0  # d = 0 (coincident candidates): d = 0 with a zero, not NaN, gradient
        d = torch.where(apart, torch.sqrt(torch.where(apart, r2, torch.ones_like(r2))), torch.zeros_like(r2))  # (P,)

        dn = d  # what the network sees: d, or d through the distance floor f + w softplus((d - f)/w)
        if self.floor_radius_scale > 0:
            f = self.floor_radius_scale * (self.radii[Z[idx_i]] + self.radii[Z[idx_j]])  # (P,)
            dn = f + 0.02 * (ssp((d - f) / 0.02) + math.log(2.0))  # softplus = ssp + ln 2, exact
        e = torch.exp(-0.5 * ((dn[:, None] - rep.radial_basis.offsets) / rep.radial_basis.widths) ** 2)  # (P, K)
        fc = torch.where(dn < self.cutoff, 0.5 * (torch.cos(math.pi * dn / self.cutoff) + 1.0), torch.zeros_like(dn))

        h = rep.embedding(Z)  # (N, A)
        layers = [h]
        for block in rep.interactions:
            filt, f2out = block["filter_network"], block["f2out"]
            W = filt[1](ssp(filt[0](e))) * fc[:, None]  # (P, F)
            v = block["in2f"](h) * q[:, None]  # (N, F): q_j scales what j sends
            m = torch.zeros_like(v).index_add(0, idx_i, W * v[idx_j])  # m_i = Σ_j q_j W_ij ⊙ in2f h_j
            h = h + f2out[1](ssp(f2out[0](m)))  # (N, A)
            layers.append(h)

        outnet = self.output_modules[0]["outnet"]
        eps = self.stddev * self.element_scale[Z] * outnet[1](self.act(outnet[0](h)))[:, 0] + self.mean + self.atomref[Z]
        E = (q * eps).sum()  # E_nn = Σ_i q_i ε_i

        if self.prior_strength > 0:
            r_ab = self.prior_radius_scale * (self.radii[Z[idx_i]] + self.radii[Z[idx_j]])  # (P,)
            phi = self.prior_strength * torch.clamp(1.0 - d / r_ab, min=0.0) ** 3
            E = E + 0.5 * (q[idx_i] * q[idx_j] * phi).sum()  # E_rep = ½ Σ_{i≠j} q_i q_j φ(d_ij)
        return (E, layers) if embeddings else E

    def energy_and_gradients(self, atoms, q=None, embeddings=False):
        """(E, ∂E/∂x, ∂E/∂q) as NumPy for an ASE ``Atoms``, pairs from ASE's ``neighbor_list``;
        ``embeddings=True`` appends the list of per-layer embeddings."""
        i, j, S = neighbor_list("ijS", atoms, self.cutoff)
        kw = dict(dtype=torch.float64)
        positions = torch.tensor(atoms.positions, requires_grad=True, **kw)
        q = torch.tensor(np.ones(len(atoms)) if q is None else q, requires_grad=True, **kw)
        offsets = torch.tensor(S @ np.asarray(atoms.cell), **kw)
        Z = torch.tensor(atoms.numbers, dtype=torch.long)
        E, layers = self(Z, positions, q, torch.tensor(i), torch.tensor(j), offsets, embeddings=True)
        dE_dx, dE_dq = torch.autograd.grad(E, (positions, q))
        out = (E.item(), dE_dx.numpy(), dE_dq.numpy())
        return out + ([h.detach().numpy() for h in layers],) if embeddings else out


def from_refgc(model):
    """An :class:`ExistenceSchNet` with the weights of a refgc model (transposed; the
    embedding rows placed at the atomic numbers; scale/offset per element)."""
    from ase.data import atomic_numbers

    c = model.config
    net = ExistenceSchNet(
        n_atom_basis=c.n_features, n_filters=c.n_filters, n_rbf=c.n_rbf, n_interactions=c.n_interactions,
        cutoff=c.cutoff, readout_activation=c.readout_activation,
        atomrefs={atomic_numbers[s]: model.params["offset"][k] for k, s in enumerate(c.species)},
        element_scales={atomic_numbers[s]: model.params["scale"][k] for k, s in enumerate(c.species)},
        prior_strength=c.prior_strength, prior_radius_scale=c.prior_radius_scale,
        floor_radius_scale=c.floor_radius_scale,
    )  # fmt: skip
    state = {k: v.clone() for k, v in net.state_dict().items()}
    for k, s in enumerate(c.species):
        state["representation.embedding.weight"][atomic_numbers[s]] = torch.tensor(model.params["embedding"][k])
    names = {"filter.0": "filter_network.0", "filter.1": "filter_network.1", "in2f": "in2f",
             "f2out.0": "f2out.0", "f2out.1": "f2out.1"}
    for name, value in model.params.items():
        if name.startswith("interactions."):
            _, t, layer = name.split(".", 2)
            layer, kind = layer.rsplit(".", 1)
            key = f"representation.interactions.{t}.{names[layer]}.{kind}"
        elif name.startswith("readout."):
            key = name.replace("readout.", "output_modules.0.outnet.")
        else:
            continue  # embedding, offset, scale: handled above
        state[key] = torch.tensor(value.T if name.endswith(".weight") else value)  # (in, out) -> (out, in)
    net.load_state_dict(state)
    return net

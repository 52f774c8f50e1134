"""An ASE calculator for an existence SchNet.

It reads each atom's existence from ``atoms.arrays["existence"]`` (all ones when the
array is absent) and returns, besides the usual energy and forces, the
``existence_gradient`` ∂E/∂q. ASE caches results by positions, numbers and cell only, so
:meth:`Calculator.check_state` also compares the existences: changing
``atoms.arrays["existence"]`` alone triggers a new calculation instead of returning a
stale energy. ``free_energy`` equals ``energy`` (there is no electronic smearing); the
Gibbs free energy of a surface is :func:`refgc.gibbs_free_energy`.

Extended XYZ keeps the existence array; ``.traj`` files drop it.
"""

import numpy as np
from ase.calculators.calculator import Calculator as ASECalculator
from ase.calculators.calculator import all_changes

from .batch import on_backend
from .energy import energy_and_gradients
from .graph import NeighborList
from .system import check_model

__all__ = ["Calculator"]


class Calculator(ASECalculator):
    """ASE calculator: ``Calculator(model)``; ``skin`` (Å) is the neighbour list's Verlet skin;
    ``backend``: ``"numpy"`` or ``"cupy"`` (a GPU)."""

    implemented_properties = ["energy", "free_energy", "forces", "existence_gradient"]

    def __init__(self, model, skin=0.5, backend="numpy", **kwargs):
        super().__init__(**kwargs)
        self.model = check_model(model)
        on_backend(model, backend)  # a bad backend is an error here, not at the first call
        self.backend = backend
        self.neighbors = NeighborList(model.cutoff, skin)

    def check_state(self, atoms, tol=1e-15):
        changes = super().check_state(atoms, tol)
        if self.atoms is not None and "existence" not in changes:
            old = self.atoms.arrays.get("existence")
            new = atoms.arrays.get("existence")
            if (old is None) != (new is None) or (old is not None and not np.array_equal(old, new)):
                changes.append("existence")
        return changes

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        E, dE_dx, dE_dq = energy_and_gradients(self.model, self.atoms, neighbors=self.neighbors,
                                             backend=self.backend)
        self.results = {
            "energy": E,
            "free_energy": E,
            "forces": -dE_dx,
            "existence_gradient": dE_dq,
        }

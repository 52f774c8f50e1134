"""refgc: gradient-based grand canonical optimization with fractional atomic existence.

The reference implementation of an existence-weighted SchNet, the Gibbs free energy
ΔG(x, q) of a surface with fractional candidate atoms, and its gradients in positions
and existences. See ``README.md`` and ``METHOD.md`` for the equations.
"""

from .calculator import Calculator
from .energy import embeddings, energy, energy_and_gradients
from .gibbs import chemical_potentials, gibbs_free_energy
from .graph import NeighborList
from .insertion import insertion_map
from .phasediagram import PhaseDiagram, phase_diagram
from .schnetpack import from_schnetpack
from .grandcanonical import GCResult, SerialExecutor, optimize
from .model import Model, ModelConfig, init_model
from .modelfile import load_model, save_model
from .training import TrainSettings, read_frames, train

__version__ = "0.1.0"

__all__ = [
    "Calculator",
    "GCResult",
    "Model",
    "ModelConfig",
    "NeighborList",
    "PhaseDiagram",
    "SerialExecutor",
    "TrainSettings",
    "chemical_potentials",
    "embeddings",
    "energy",
    "energy_and_gradients",
    "from_schnetpack",
    "gibbs_free_energy",
    "init_model",
    "insertion_map",
    "load_model",
    "optimize",
    "phase_diagram",
    "read_frames",
    "save_model",
    "train",
    "__version__",
]

"""refgc: gradient-based grand canonical optimization with fractional atomic existence.

The reference implementation of an existence-weighted SchNet, the Gibbs free energy
ΔG(x, q) of a surface with fractional candidate atoms, and its gradients in positions
and existences. The public API is below; docs/method.md ("Layout of the package") maps the modules.
"""

from .calculator import Calculator
from .data import read_frames
from .energy import embeddings, energy, energy_and_gradients, energy_and_gradients_batch
from .gibbs import gibbs_free_energy
from .grandcanonical import optimize
from .insertion import insertion_map
from .model import Model, ModelConfig, init_model
from .modelfile import load_model, save_model
from .phasediagram import phase_diagram
from .search import relax
from .training import TrainSettings, train

__version__ = "0.4.0"

__all__ = [
    # the model
    "ModelConfig", "Model", "init_model", "load_model", "save_model",
    "energy", "energy_and_gradients", "energy_and_gradients_batch", "embeddings", "Calculator",
    # the search
    "gibbs_free_energy", "relax", "optimize", "phase_diagram", "insertion_map",
    # training
    "TrainSettings", "train", "read_frames",
    "__version__",
]  # fmt: skip

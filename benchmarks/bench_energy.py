"""Time E + ∂E/∂x + ∂E/∂q on Cu(110)+O slabs: one thread, min of several runs.

    python benchmarks/bench_energy.py [--repeats 7] [--sizes 50 100 200 400 1000 2000 5000]
                                      [--autograd-up-to 1000]

Model size as in the issues: 64 features, 3 blocks, 20 RBF, r_c = 6 Å. Prints a table of
atoms, pairs, milliseconds per call for the autograd reference path and for the
hand-written backward pass (the default), their ratio, and the backward pass's time per
pair relative to the smallest system (linear scaling keeps that ratio near 1), and the
backward pass's peak memory per pair (NumPy allocations, by tracemalloc). When torch is
installed, the same model in PyTorch (``tutorials/torch_schnet.py``, same weights, same pairs)
is timed too, in float64 and float32, with one torch thread: energy, forces and ∂E/∂q by
torch.autograd.
"""

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS"):
    os.environ[var] = "1"  # before NumPy is imported

import argparse  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from ase import Atoms  # noqa: E402
from ase.build import fcc110  # noqa: E402

import refgc  # noqa: E402
from refgc.graph import build_graph  # noqa: E402
from refgc.system import system_from_atoms  # noqa: E402


def slab_with_oxygen(n_atoms, seed=0):
    """A 4-layer Cu(110) slab topped up with O adatoms to ``n_atoms`` atoms (about 1/3 O)."""
    n_cu = int(round(n_atoms * 2 / 3 / 4)) * 4
    nx = max(1, int(np.sqrt(n_cu / 4 / 1.41)))
    ny = max(1, n_cu // 4 // nx)
    slab = fcc110("Cu", (nx, ny, 4), a=3.61, vacuum=8.0)
    rng = np.random.default_rng(seed)
    n_o = n_atoms - len(slab)
    top = slab.positions[:, 2].max()
    xy = rng.uniform(0, 1, (n_o, 2)) @ slab.cell[:2, :2]
    return slab + Atoms("O" * n_o, positions=np.c_[xy, top + rng.uniform(1.0, 3.0, n_o)])


def peak_bytes(f):
    """Peak memory NumPy allocates during one call (tracemalloc sees NumPy's buffers)."""
    import tracemalloc

    tracemalloc.start()
    f()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def best_time(f, repeats):
    f()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 200, 400, 1000, 2000, 5000])
    parser.add_argument("--autograd-up-to", type=int, default=1000,
                        help="time the (slow, memory-hungry) autograd path only up to this many atoms")
    args = parser.parse_args()
    model = refgc.init_model(refgc.ModelConfig(species=("Cu", "O")), seed=0)
    print(f"# {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
          f"NumPy {np.__version__}, one thread, min of {args.repeats}")
    torch_net = torch_twin(model)
    header = f" {'torch64 ms':>10} {'torch32 ms':>10} {'64/torch':>8} {'32/torch':>8}" if torch_net is not None else ""
    print(f"{'atoms':>6} {'pairs':>7} {'autograd ms':>12} {'backward ms':>12} {'speed-up':>9} {'float32 ms':>11} "
          f"{'µs/pair':>8} {'ratio':>6} {'KB/pair':>8}{header}")
    first = None
    for n in args.sizes:
        atoms = slab_with_oxygen(n)
        q = onp_where_o(atoms)
        s = system_from_atoms(model.species, atoms, q)
        graph = build_graph(s.positions, s.cell, s.pbc, model.config.cutoff)
        t_auto = (best_time(lambda: model.evaluate(s.species, s.positions, s.q, graph, method="autograd"), args.repeats)
                  if n <= args.autograd_up_to else float("nan"))
        t_back = best_time(lambda: model.evaluate(s.species, s.positions, s.q, graph, method="backward"), args.repeats)
        t_f32 = best_time(lambda: model.evaluate(s.species, s.positions, s.q, graph, dtype="float32"), args.repeats)
        kb_per_pair = peak_bytes(lambda: model.evaluate(s.species, s.positions, s.q, graph)) / len(graph.i) / 1e3
        pairs = len(graph.i)
        per_pair = t_back / pairs * 1e6
        first = first or per_pair
        torch_cols = ""
        if torch_net is not None:
            t64, t32 = (best_time(torch_step(torch_net, atoms, q, graph, dt), args.repeats) for dt in ("float64", "float32"))
            torch_cols = f" {t64 * 1e3:10.1f} {t32 * 1e3:10.1f} {t_back / t64:8.2f} {t_f32 / t32:8.2f}"
        print(f"{len(atoms):6d} {pairs:7d} {t_auto * 1e3:12.1f} {t_back * 1e3:12.1f} {t_auto / t_back:9.2f} "
              f"{t_f32 * 1e3:11.1f} {per_pair:8.2f} {per_pair / first:6.2f} {kb_per_pair:8.2f}{torch_cols}")


def torch_twin(model):
    """The PyTorch twin of ``model`` (tutorials/torch_schnet.py), or None without torch."""
    import importlib.util
    import sys
    from pathlib import Path

    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tutorials"))
    import torch_schnet

    return torch_schnet.from_refgc(model)


def torch_step(net, atoms, q, graph, dtype):
    """A closure: E, forces and ∂E/∂q in PyTorch on the given pairs (built once, like refgc's)."""
    import copy

    import torch

    dt = getattr(torch, dtype)
    model = copy.deepcopy(net).to(dt)  # .to converts in place: keep the float64 original intact
    Z = torch.tensor(atoms.numbers, dtype=torch.long)
    i, j = torch.tensor(graph.i), torch.tensor(graph.j)
    offsets = torch.tensor(graph.offsets, dtype=dt)
    x0, q0 = torch.tensor(atoms.positions, dtype=dt), torch.tensor(q, dtype=dt)

    def step():
        x, qq = x0.clone().requires_grad_(True), q0.clone().requires_grad_(True)
        E = model(Z, x, qq, i, j, offsets)
        return torch.autograd.grad(E, (x, qq))

    return step


def onp_where_o(atoms):
    """q = ½ on the O adatoms (candidates), 1 on the slab."""
    return np.where(atoms.symbols == "O", 0.5, 1.0)


if __name__ == "__main__":
    main()

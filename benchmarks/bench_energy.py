"""E + ∂E/∂x + ∂E/∂q on Cu(110)+O slabs: refgc against an independent PyTorch SchNet.

    python benchmarks/bench_energy.py [--sizes 100 400] [--repeats 15] [--rounds 3] [--autograd-up-to 1000]

Every side runs in its own fresh process, with one thread, as a user's process would: one
library can change another's allocator or thread state (PyTorch, for one, raises glibc's
mmap threshold, which hides the page faults a plain NumPy process pays). Model size as in
the issues: 64 features, 64 filters, 3 blocks, 20 RBF, r_c = 6 Å, float64 unless stated;
the same weights and the same pairs on both sides. The PyTorch model is
``tutorials/torch_schnet.py``, written independently of refgc: one filter per ordered pair,
messages with ``index_add_``, gradients by ``torch.autograd``.

Prints per size: pairs; milliseconds per call (the minimum of ``--repeats`` calls after a
warm-up, and of ``--rounds`` fresh processes per side, taken in turns so that a slow spell
of a shared machine hits every side) of refgc's hand-written backward pass (the default), its float32 variant, the
autograd reference path, and PyTorch in float64 and float32; refgc / PyTorch in float64;
and the kernel time of refgc's timed calls as a share of their user time (page faults
show up there).
"""

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve()
SIDES = ("backward", "float32", "autograd", "torch64", "torch32")


def slab_with_oxygen(n_atoms, seed=0):
    """A 4-layer Cu(110) slab topped up with O adatoms to ``n_atoms`` atoms (about 1/3 O)."""
    import numpy as np
    from ase import Atoms
    from ase.build import fcc110

    n_cu = int(round(n_atoms * 2 / 3 / 4)) * 4
    nx = max(1, int(np.sqrt(n_cu / 4 / 1.41)))
    ny = max(1, n_cu // 4 // nx)
    slab = fcc110("Cu", (nx, ny, 4), a=3.61, vacuum=8.0)
    rng = np.random.default_rng(seed)
    n_o = n_atoms - len(slab)
    top = slab.positions[:, 2].max()
    xy = rng.uniform(0, 1, (n_o, 2)) @ slab.cell[:2, :2]
    return slab + Atoms("O" * n_o, positions=np.c_[xy, top + rng.uniform(1.0, 3.0, n_o)])


def best_time(f, repeats):
    import time

    f()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


def worker(side, n_atoms, repeats):
    """Time one side in this (fresh) process; print a JSON line."""
    import resource

    import numpy as np

    import refgc
    from refgc.graph import build_graph
    from refgc.system import system_from_atoms

    model = refgc.init_model(refgc.ModelConfig(species=("Cu", "O")), seed=0)
    atoms = slab_with_oxygen(n_atoms)
    q = np.where(atoms.symbols == "O", 0.5, 1.0)  # the O adatoms are fractional candidates
    s = system_from_atoms(model.species, atoms, q)
    graph = build_graph(s.positions, s.cell, s.pbc, model.config.cutoff)
    if side.startswith("torch"):
        step = torch_step(model, atoms, q, graph, "float64" if side == "torch64" else "float32")
    else:
        options = {"backward": {}, "float32": {"dtype": "float32"}, "autograd": {"method": "autograd"}}[side]
        step = lambda: model.evaluate(s.species, s.positions, s.q, graph, **options)  # noqa: E731
    before = resource.getrusage(resource.RUSAGE_SELF)
    seconds = best_time(step, repeats)
    after = resource.getrusage(resource.RUSAGE_SELF)  # the timed calls' kernel and user time
    print(json.dumps({"ms": 1e3 * seconds, "pairs": int(graph.n_pairs), "atoms": len(atoms),
                      "sys_share": (after.ru_stime - before.ru_stime) / (after.ru_utime - before.ru_utime)}))


def torch_step(model, atoms, q, graph, dtype):
    """A closure: E, ∂E/∂x and ∂E/∂q by PyTorch on the given pairs (built once, as refgc's)."""
    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, str(HERE.parents[1] / "tutorials"))
    import torch_schnet

    dt = getattr(torch, dtype)
    net = torch_schnet.from_refgc(model).to(dt)
    Z = torch.tensor(atoms.numbers, dtype=torch.long)
    i, j = torch.tensor(graph.i), torch.tensor(graph.j)
    offsets = torch.tensor(graph.offsets, dtype=dt)
    x0, q0 = torch.tensor(atoms.positions, dtype=dt), torch.tensor(q, dtype=dt)

    def step():
        x, qq = x0.clone().requires_grad_(True), q0.clone().requires_grad_(True)
        return torch.autograd.grad(net(Z, x, qq, i, j, offsets), (x, qq))

    return step


def run_side(side, n_atoms, repeats):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    out = subprocess.run([sys.executable, str(HERE), "--worker", side, "--sizes", str(n_atoms),
                          "--repeats", str(repeats)], env=env, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{side} at {n_atoms} atoms failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 400])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=3, help="fresh processes per side, in turns")
    parser.add_argument("--autograd-up-to", type=int, default=1000, help="time the autograd path up to this size")
    parser.add_argument("--worker", choices=SIDES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.sizes[0], args.repeats)
    import importlib.util

    import numpy

    sides = [s for s in SIDES if not s.startswith("torch") or importlib.util.find_spec("torch")]
    print(f"# {platform.processor() or platform.machine()}, Python {platform.python_version()}, NumPy "
          f"{numpy.__version__}; one thread, each side in a fresh process, min of {args.repeats}")
    print(f"{'atoms':>6} {'pairs':>7} " + " ".join(f"{s + ' ms':>12}" for s in sides)
          + f" {'refgc/torch':>11} {'sys/user':>9}")
    for n in args.sizes:
        results = {}
        for _ in range(args.rounds):
            for s in sides:
                if s != "autograd" or n <= args.autograd_up_to:
                    r = run_side(s, n, args.repeats)
                    results[s] = min(results.get(s, r), r, key=lambda x: x["ms"])
        first = next(iter(results.values()))
        ratio = results["backward"]["ms"] / results["torch64"]["ms"] if "torch64" in results else float("nan")
        print(f"{first['atoms']:6d} {first['pairs']:7d} "
              + " ".join(f"{results[s]['ms']:12.1f}" if s in results else f"{'-':>12}" for s in sides)
              + f" {ratio:11.2f} {results['backward']['sys_share']:9.1%}")


if __name__ == "__main__":
    main()

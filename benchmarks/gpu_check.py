"""The GPU check: one short script for a machine with a GPU and CuPy (refgc's GPU numbers are not measured yet).

    pip install ".[test,gpu]"
    python benchmarks/gpu_check.py [--sizes 100 1000 5000 20000] [--restarts 64] [--skip-search]

1. Runs the tests of the backends (``tests/test_backends.py``), which on a GPU include
   CuPy against NumPy.
2. Times E + ∂E/∂x + ∂E/∂q on Cu(110)+O slabs (``bench_energy.slab_with_oxygen``, the
   64-feature model of bench_energy.py) at each size: CuPy in float64 and float32 against
   NumPy on one CPU thread (the minimum of a few calls after a warm-up; NumPy with fewer
   calls at the largest sizes), and checks that CuPy's numbers equal NumPy's.
3. Times the scatter both ways on the GPU at the largest size: cuSPARSE's CSR product
   (what refgc uses) against ``cupyx.scatter_add`` (a segment sum by atomics).
4. Runs a ``--restarts`` (64) restart search on the c(6×2) template at Δμ_O = −1 eV with
   ``backend="cupy", lockstep=True`` (one batched call per step), and the main job (8
   restarts, NumPy, the process pool) for comparison: wall time, restarts per minute and
   the best ΔG of each.

Send the printed lines (they say what each number is) to the refgc issue tracker.
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


sys.path.insert(0, str(HERE))
from bench_batch import best_time  # noqa: E402  (the same timing as the CPU benchmark)


def energy_table(sizes):
    import cupy
    import numpy as np
    from threadpoolctl import threadpool_limits

    import refgc
    from refgc.graph import build_graph
    from refgc.system import system_from_atoms

    sys.path.insert(0, str(HERE))
    from bench_energy import slab_with_oxygen

    model = refgc.init_model(refgc.ModelConfig(species=("Cu", "O")), seed=0)
    print(f"# E + dE/dx + dE/dq, ms per call; GPU: {cupy.cuda.runtime.getDeviceProperties(0)['name'].decode()}")
    print(f"{'atoms':>6} {'pairs':>9} {'numpy 1 core':>12} {'cupy f64':>9} {'cupy f32':>9} {'speed-up f64':>12} "
          f"{'max |Δ| f64':>11}")
    last = None
    for n in sizes:
        atoms = slab_with_oxygen(n)
        q = np.where(atoms.symbols == "O", 0.5, 1.0)
        s = system_from_atoms(model.species, atoms, q)
        graph = build_graph(s.positions, s.cell, s.pbc, model.cutoff)
        args = (s.species, s.positions, s.q, graph)

        def gpu(dtype):
            out = model.evaluate(*args, backend="cupy", dtype=dtype)
            cupy.cuda.Device().synchronize()
            return out

        with threadpool_limits(1):
            cpu = model.evaluate(*args)
            t_cpu = best_time(lambda: model.evaluate(*args), 3 if n <= 5000 else 1)
        t64, t32 = best_time(lambda: gpu("float64"), 5), best_time(lambda: gpu("float32"), 5)
        on_gpu = gpu("float64")
        diff = max(abs(cpu[0] - on_gpu[0]), *(float(np.abs(a - b).max()) for a, b in zip(cpu[1:], on_gpu[1:])))
        print(f"{len(atoms):6d} {graph.n_pairs:9,d} {1e3 * t_cpu:12.1f} {1e3 * t64:9.2f} {1e3 * t32:9.2f} "
              f"{t_cpu / t64:12.1f} {diff:11.1e}", flush=True)
        last = (graph, model.config.n_filters)
    return last


def scatter_table(graph, n_filters):
    import cupy
    import cupyx

    from refgc.scatter import scatter_add

    seg = graph.seg_i.to(__import__("array_api_compat").array_namespace(cupy.empty(0)))
    values = cupy.random.standard_normal((graph.n_pairs, n_filters))

    def segment_sum():
        out = cupy.zeros((seg.n_atoms, n_filters))
        cupyx.scatter_add(out, seg.idx, values)
        return out

    def sync(fn):
        def run():
            fn()
            cupy.cuda.Device().synchronize()
        return run

    csr, atomics = best_time(sync(lambda: scatter_add(values, seg)), 10), best_time(sync(segment_sum), 10)
    same = float(cupy.abs(scatter_add(values, seg) - segment_sum()).max())
    print(f"# scatter of ({graph.n_pairs:,}, {n_filters}) onto {seg.n_atoms:,} atoms: CSR product {1e3 * csr:.2f} ms, "
          f"cupyx.scatter_add {1e3 * atomics:.2f} ms (max |Δ| {same:.1e})")


def search(restarts):
    import refgc
    import refgc.surface

    t0 = time.perf_counter()
    gpu = refgc.optimize(refgc.surface.cu110_c6x2_template(), {"O": -1.0, "Cu": 0.0}, restarts=restarts, seed=0,
                         backend="cupy", lockstep=True, progress=False)
    t_gpu = time.perf_counter() - t0
    t0 = time.perf_counter()
    cpu = refgc.optimize(refgc.surface.cu110_c6x2_template(), {"O": -1.0, "Cu": 0.0}, restarts=8, seed=0,
                         progress=False)
    t_cpu = time.perf_counter() - t0
    print(f"# c(6x2), Δμ_O = -1 eV: {restarts} restarts, cupy + lockstep: {t_gpu:.1f} s "
          f"({60 * restarts / t_gpu:.1f} restarts/min), best ΔG {gpu.gibbs:.3f} eV; "
          f"main job (8 restarts, numpy, {os.cpu_count()} cores): {t_cpu:.1f} s "
          f"({60 * 8 / t_cpu:.1f} restarts/min), best ΔG {cpu.gibbs:.3f} eV")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 5000, 20000])
    parser.add_argument("--restarts", type=int, default=64)
    parser.add_argument("--skip-search", action="store_true")
    args = parser.parse_args()
    from refgc.arrays import backend_namespace

    backend_namespace("cupy")  # no CuPy or no GPU: one line, and stop
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", str(HERE.parent / "tests" / "test_backends.py")],
                           capture_output=True, text=True)
    print("# tests/test_backends.py:", tests.stdout.strip().splitlines()[-1], flush=True)
    graph, n_filters = energy_table(args.sizes)
    scatter_table(graph, n_filters)
    if not args.skip_search:
        search(args.restarts)


if __name__ == "__main__":
    try:
        main()
    except (ValueError, RuntimeError) as err:
        sys.exit(f"gpu_check: {err}")

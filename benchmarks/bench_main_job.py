"""The main job as a user runs it: wall, user and kernel time, and the restarts.

    python benchmarks/bench_main_job.py [--runs 3] [--seed 0] [--baseline SRC] [-- extra refgc optimize options]

Runs ``refgc optimize --mu O=-1.0 --mu Cu=0 --seed SEED`` in a fresh folder under
``/usr/bin/time -v`` (8 restarts in the default process pool), ``--runs`` times, and prints
each run's wall, user and sys seconds, sys as a share of user, the minor page faults, and
the restarts' seconds (each on one core) from its ``summary.json``. ``--baseline SRC``: a
source tree of another refgc version (a ``git worktree`` of an older commit), run the same
way in turns with this one, so that both meet the same state of a shared machine.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

FIELDS = {"wall": r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (.+)", "user": r"User time \(seconds\): (.+)",
          "sys": r"System time \(seconds\): (.+)", "faults": r"Minor \(reclaiming a frame\) page faults: (.+)"}


def seconds(clock):
    """'1:02.5' or '1:02:03' -> seconds."""
    value = 0.0
    for part in clock.split(":"):
        value = 60 * value + float(part)
    return value


def run(source, seed, extra):
    with tempfile.TemporaryDirectory() as folder:
        env = dict(os.environ)
        if source is not None:
            env["PYTHONPATH"] = str(Path(source).resolve())
        command = ["/usr/bin/time", "-v", sys.executable, "-m", "refgc.cli", "optimize", "--mu", "O=-1.0",
                   "--mu", "Cu=0", "--seed", str(seed), "--quiet", "--out", "out", *extra]
        done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(done.stderr[-2000:])
        found = {k: re.search(pattern, done.stderr).group(1) for k, pattern in FIELDS.items()}
        summary = json.loads((Path(folder) / "out" / "summary.json").read_text())
    restarts = sorted(r["seconds"] for r in summary["runs"])
    return dict(wall=seconds(found["wall"]), user=float(found["user"]), sys=float(found["sys"]),
                faults=int(found["faults"]), restarts=restarts, best=summary["best_gibbs"],
                evaluations=sum(r["n_evaluations"] for r in summary["runs"]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baseline", help="source tree of another refgc version, run in turns with this one")
    parser.add_argument("extra", nargs="*", help="more `refgc optimize` options (after --)")
    args = parser.parse_args()
    sides = [("this", None)] + ([("baseline", args.baseline)] if args.baseline else [])
    print(f"# refgc optimize --mu O=-1.0 --mu Cu=0 --seed {args.seed} {' '.join(args.extra)}; "
          f"{os.cpu_count()} cores; /usr/bin/time -v")
    print(f"{'version':>9} {'wall s':>7} {'user s':>7} {'sys s':>6} {'sys/user':>8} {'faults':>8} "
          f"{'evaluations':>11} {'best ΔG':>8}  restart s (min / median / max)")
    for _ in range(args.runs):
        for name, source in sides:
            r = run(source, args.seed, args.extra)
            t = r["restarts"]
            print(f"{name:>9} {r['wall']:7.1f} {r['user']:7.1f} {r['sys']:6.2f} {r['sys'] / r['user']:8.1%} "
                  f"{r['faults']:8d} {r['evaluations']:11d} {r['best']:8.3f}  "
                  f"{t[0]:.1f} / {t[len(t) // 2]:.1f} / {t[-1]:.1f}", flush=True)


if __name__ == "__main__":
    main()

"""Label, with the labeller, the structures that ``refgc optimize`` runs visited and ended in.

    python scripts/label_visits.py OUT.extxyz RESULT_FOLDER [RESULT_FOLDER ...]
        [--labeller sevenn:7net-0] [--snapshots 2] [--workers 2]

For every restart of every result folder: its final structure and ``--snapshots``
discretised frames of its fractional stage (:func:`refgc.datagen.frames_from_runs`),
tagged by the last three parts of the folder's path, single-point labelled into OUT. Resumable: frames already in OUT
are not labelled again. This is what ``refgc learn`` does within a round, for runs made
outside it (e.g. those of ``benchmarks/validate_main_job.py``).
"""

import argparse
from pathlib import Path

from refgc import datagen
from refgc.labeller import labeller
from refgc.validate import load_result


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("results", type=Path, nargs="+")
    ap.add_argument("--labeller", default="sevenn:7net-0")
    ap.add_argument("--snapshots", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    lab = labeller(args.labeller)
    frames = []
    for folder in args.results:
        runs, _ = load_result(folder)
        frames += datagen.frames_from_runs(runs, args.snapshots, tag="/".join(folder.parts[-3:]))
    stats = datagen.label(frames, lab, str(args.out), workers=args.workers)
    print(f"{len(frames)} frames from {len(args.results)} results; labeller failed on {len(stats['failed'])}")


if __name__ == "__main__":
    main()

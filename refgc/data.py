"""Labelled frames: reading them, checking them, and laying them out as training batches.

A *frame* is one configuration with the labeller's answer for it: an ``ase.Atoms`` whose
calculator results hold the total energy (eV) and the forces (eV/Å) of every atom. Frames
come from any ASE calculator (``refgc.datagen`` makes them) and travel as extended XYZ,
which keeps the labels and ``info`` (``task_id``, ``frame_id``). Before training, every
frame is checked (labels present and finite, species known to the model) and turned into
a :class:`Frame`: plain arrays and its neighbour graph, built once, at q = 1 for every
atom, where the existence SchNet is plain SchNet.

A :class:`Batch` is several frames as one disjoint graph: atom indices shifted by the
atoms of the frames before, and a segment map atom -> frame that sums atom energies into
frame energies. Each frame's graph lists its pairs in the half/reversed layout: all
unordered pairs (i, j) first, then the same pairs reversed (j, i). The batch keeps that
layout across frames (every frame's unordered pairs, then all their reverses), so the
filter network, most of a training step, runs once per unordered pair
(:func:`refgc.schnet.atom_embeddings`).

Validation and test sets are drawn by whole trajectories (``info["task_id"]``) where
frames carry one (:func:`split`): frames along one relaxation are near-duplicates, and
splitting them across sets would measure memory, not prediction.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase.neighborlist import neighbor_list

from .graph import Graph, build_graph
from .scatter import Segments
from .system import species_indices

__all__ = ["Frame", "Batch", "read_frames", "check_frames", "drop_large_forces", "closest_inside_floor",
           "drop_inside_floor", "prepare", "collate", "split"]


@dataclass(frozen=True)
class Frame:
    """One labelled configuration as arrays, its graph built once."""

    species: np.ndarray  # (n,)
    positions: np.ndarray  # (n, 3)
    graph: Graph
    energy: float
    forces: np.ndarray  # (n, 3)


@dataclass(frozen=True)
class Batch:
    """Frames as one disjoint graph, every atom at q = 1."""

    species: np.ndarray  # (N,)
    positions: np.ndarray  # (N, 3)
    q: np.ndarray  # (N,) ones
    graph: Graph  # disjoint union of the frames' graphs
    frames: Segments  # atom -> frame
    n_atoms: np.ndarray  # (B,)
    energies: np.ndarray  # (B,)
    forces: np.ndarray  # (N, 3)


def read_frames(*paths):
    """All frames of one or more extended XYZ files (``.xz``/``.gz``/``.bz2`` compressed too).

    A compressed file is decompressed into memory first: ASE's reader seeks back to each
    frame, and every backward seek in a compressed stream decompresses it again from the
    start: quadratic, 98 s for the 1,169 frames of ``train2.extxyz.xz`` against 0.4 s."""
    import bz2
    import gzip
    import io
    import lzma

    from ase.io import read

    openers = {".xz": lzma.open, ".gz": gzip.open, ".bz2": bz2.open}
    frames = []
    for path in map(str, paths):
        opener = openers.get(Path(path).suffix)
        if opener is None:
            frames += read(path, index=":")
            continue
        stem = Path(path).stem
        if not stem.endswith((".xyz", ".extxyz")):
            raise ValueError(f"{path}: expected an extended XYZ file (name.extxyz{Path(path).suffix})")
        with opener(path, "rt") as f:
            frames += read(io.StringIO(f.read()), index=":", format="extxyz")
    return frames


def check_frames(frames, species):
    """The number of frames; ``ValueError`` naming the first frame that cannot be trained on."""
    if len(frames) == 0:
        raise ValueError("empty dataset: no frames")
    for k, atoms in enumerate(frames):
        name = f"frame {k}" + (f" (frame_id={atoms.info['frame_id']!r})" if "frame_id" in atoms.info else "")
        results = atoms.calc.results if atoms.calc is not None else {}
        if "energy" not in results or "forces" not in results:
            raise ValueError(f"{name} has no energy or no forces")
        unknown = sorted(set(atoms.get_chemical_symbols()) - set(species))
        if unknown:
            raise ValueError(f"{name} has species {unknown} that the model does not list ({', '.join(species)})")
        forces = np.asarray(results["forces"], dtype=float)
        if forces.shape != (len(atoms), 3):
            raise ValueError(f"{name} has forces of shape {forces.shape}, expected ({len(atoms)}, 3)")
        if not (np.isfinite(results["energy"]) and np.all(np.isfinite(forces))):
            raise ValueError(f"{name} has a NaN or infinite energy or force")
        if not np.all(np.isfinite(atoms.positions)):
            raise ValueError(f"{name} has NaN or infinite positions")
    return len(frames)


def drop_large_forces(frames, max_force):
    """(kept, dropped): frames whose largest force component is at most ``max_force`` eV/Å, and
    the rest. Collapsed structures that an optimizer finds on an immature model carry forces of
    hundreds of eV/Å; in a squared-error loss a handful of them would outweigh everything else."""
    kept, dropped = [], []
    for atoms in frames:
        (kept if np.abs(atoms.get_forces()).max() <= max_force else dropped).append(atoms)
    return kept, dropped


def closest_inside_floor(atoms, config):
    """None, or (a, b, d, f) for the pair of ``atoms`` deepest inside the network's distance
    floor of ``config`` (species a, b at d Å, their floor f Å). The network cannot fit such a
    frame: below its floor only the fixed prior changes the energy."""
    if not config.floor_radius_scale:
        return None
    floors = config.floor_radii()
    kinds = species_indices(atoms.get_chemical_symbols(), config.species)
    i, j, d = neighbor_list("ijd", atoms, float(floors.max()))
    if not len(d):
        return None
    f = floors[kinds[i], kinds[j]]
    k = int(np.argmin(d / f))
    if d[k] >= f[k]:
        return None
    return config.species[kinds[i[k]]], config.species[kinds[j[k]]], float(d[k]), float(f[k])


def drop_inside_floor(frames, config):
    """(kept, dropped): frames with no pair inside the network's distance floor of ``config``,
    and (atoms, closest) for the rest, ``closest`` as :func:`closest_inside_floor` gives it."""
    kept, dropped = [], []
    for atoms in frames:
        closest = closest_inside_floor(atoms, config)
        if closest:
            dropped.append((atoms, closest))
        else:
            kept.append(atoms)
    return kept, dropped


def split(frames, fraction, seed):
    """Indices (train, validation), whole ``task_id`` groups kept on one side."""
    groups = {}
    for k, atoms in enumerate(frames):
        groups.setdefault(atoms.info.get("task_id", f"frame {k}"), []).append(k)
    keys = sorted(groups, key=str)
    np.random.default_rng(seed).shuffle(keys)
    val, target = [], fraction * len(frames)
    for key in keys:
        if len(val) >= target:
            break
        val += groups[key]
    val_set = set(val)
    return [k for k in range(len(frames)) if k not in val_set], sorted(val)


def prepare(frames, config):
    """Labelled ``ase.Atoms`` -> :class:`Frame` arrays with their graphs (q = 1)."""
    check_frames(frames, config.species)
    out = []
    for atoms in frames:
        positions = np.array(atoms.positions, dtype=float)
        out.append(Frame(
            species=species_indices(atoms.get_chemical_symbols(), config.species),
            positions=positions,
            graph=build_graph(positions, atoms.cell[:], atoms.pbc, config.cutoff),
            energy=float(atoms.calc.results["energy"]),
            forces=np.asarray(atoms.calc.results["forces"], dtype=float),
        ))  # fmt: skip
    return out


def collate(frames):
    """Frames -> one :class:`Batch` (a disjoint graph)."""
    starts = np.cumsum([0] + [len(f.species) for f in frames])
    n = int(starts[-1])
    # With every frame in the half/reversed layout, the batch keeps it: every frame's unordered
    # pairs, then their reverses (filters computed once per unordered pair; each atom's pairs
    # keep their order). Otherwise every frame's pairs as they are.
    half = all(f.graph.n_half is not None for f in frames)
    take = [slice(0, f.graph.n_half) if half else slice(None) for f in frames]
    graph = (Graph.from_half if half else Graph.from_pairs)(
        np.concatenate([f.graph.i[t] + s for f, t, s in zip(frames, take, starts)]),
        np.concatenate([f.graph.j[t] + s for f, t, s in zip(frames, take, starts)]),
        np.concatenate([f.graph.offsets[t] for f, t in zip(frames, take)]),
        n,
    )
    return Batch(
        species=np.concatenate([f.species for f in frames]),
        positions=np.concatenate([f.positions for f in frames]),
        q=np.ones(n),
        graph=graph,
        frames=Segments(np.repeat(np.arange(len(frames)), np.diff(starts)), len(frames)),
        n_atoms=np.diff(starts).astype(float),
        energies=np.array([f.energy for f in frames]),
        forces=np.concatenate([f.forces for f in frames]),
    )

"""The template geometry and the data pipeline, labelled with ASE's EMT (fast, no torch)."""

import numpy as np
import pytest
import ase.io
from ase import Atoms
from ase.calculators.emt import EMT
from ase.constraints import FixAtoms
from ase.geometry import get_distances
from ase.neighborlist import neighbor_list

from refgc import datagen
from refgc.contacts import PLACEMENT
from refgc.surface import cu110_c6x2_template, surface_area, top_layer_z
from conftest import labelled

A = 3.612

CALLS = []  # one entry per EMT evaluation, in this (the only) process


class CountingEMT(EMT):
    def calculate(self, *args, **kwargs):
        CALLS.append(1)
        super().calculate(*args, **kwargs)


def small_plan(template, **kwargs):
    sizes = dict(n_insertion=3, n_relax=2, n_template=2, n_gas=2, n_bulk=2,
                 relax_steps=6, relax_every=3)
    return datagen.make_plan(template, **dict(sizes, **kwargs))


def test_template_is_primitive_c6x2_with_6_cu_per_layer():
    t = cu110_c6x2_template(a=A, layers=4, vacuum=10.0, fixed_layers=2)
    assert len(t) == 24 and set(t.get_chemical_symbols()) == {"Cu"}
    assert tuple(t.pbc) == (True, True, False)
    # 6 times the (110) 1x1 cell, a * a / sqrt(2)
    assert surface_area(t) == pytest.approx(6 * A * A / np.sqrt(2), rel=1e-12)
    z = np.round(t.positions[:, 2], 6)
    layers = np.unique(z)
    assert len(layers) == 4 and all(np.sum(z == zl) == 6 for zl in layers)
    assert np.all(np.diff(z) >= 0)  # bottom layer first
    assert np.allclose(np.diff(layers), A / (2 * np.sqrt(2)))
    assert top_layer_z(t) == pytest.approx(layers[-1])
    assert z[0] == pytest.approx(10.0) and t.cell[2, 2] - z[-1] == pytest.approx(10.0)
    # fcc bulk-like: nearest neighbours a/sqrt(2); (110) surface atoms have 7, next 11
    i, d = neighbor_list("id", t, 0.5 * (A / np.sqrt(2) + A))
    assert d.min() == pytest.approx(A / np.sqrt(2))
    assert sorted(set(np.bincount(i))) == [7, 11]
    (fix,) = t.constraints
    assert isinstance(fix, FixAtoms)
    assert sorted(fix.index) == list(range(12))  # the two bottom layers


def test_insertions_respect_min_distances_and_region():
    t = cu110_c6x2_template()
    z_top = top_layer_z(t)
    rng = np.random.default_rng(1)
    md = PLACEMENT
    for _ in range(5):
        atoms = datagen.random_insertion(t, {"Cu": 8, "O": 8}, rng)
        assert len(atoms) == 40 and atoms.get_chemical_symbols()[:24] == ["Cu"] * 24
        assert np.allclose(atoms.positions[:24], t.positions)
        new = atoms.positions[24:]
        assert np.all(new[:, 2] >= z_top + 0.8) and np.all(new[:, 2] <= z_top + 3.5)
        _, d = get_distances(new, atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
        sym = atoms.get_chemical_symbols()
        for a, row in enumerate(d):
            for b, dist in enumerate(row):
                if b != 24 + a:
                    pair = (sym[24 + a], sym[b])
                    limit = md.get(pair, md.get(pair[::-1]))
                    assert dist >= limit - 1e-9


def test_plan_is_deterministic_and_interleaved():
    t = cu110_c6x2_template()
    p1, p2 = small_plan(t, seed=3), small_plan(t, seed=3)
    assert [x.task_id for x in p1] == [x.task_id for x in p2]
    assert [x.kind for x in p1[:5]] == ["insertion", "relax", "template", "bulk", "gas"]  # Cu, then O
    assert [x.task_id for x in p1[3:5]] == ["s3/bulk-Cu-0000", "s3/gas-O-0000"]
    a = datagen.run_task(p1[0], EMT())[0]
    b = datagen.run_task(p2[0], EMT())[0]
    assert np.array_equal(a.positions, b.positions)


def test_pipeline_resumes_without_relabelling(tmp_path):
    t = cu110_c6x2_template()
    out = str(tmp_path / "train.extxyz")
    plan = small_plan(t)
    CALLS.clear()
    half = len(plan) // 2
    datagen.run_plan(plan[:half], CountingEMT, out, progress=False)  # "stopped" halfway
    first = len(CALLS)
    CALLS.clear()
    stats = datagen.run_plan(plan, CountingEMT, out, progress=False)
    assert stats["tasks"] == len(plan) - half and stats["calls"] == len(CALLS)
    frames = ase.io.read(out, index=":")
    ids = [f.info["frame_id"] for f in frames]
    assert len(ids) == len(set(ids))
    assert {f.info["task_id"] for f in frames} == {x.task_id for x in plan}
    assert {f.info["config_type"] for f in frames} == {
        "insertion", "relax", "rattle", "template", "gas", "bulk"}
    datagen.check_frames(frames, ["Cu", "O"])
    CALLS.clear()
    assert datagen.run_plan(plan, CountingEMT, out, progress=False)["tasks"] == 0
    assert len(CALLS) == 0 and first > 0
    # labels are the unconstrained forces of the labeller, without constraints
    f = frames[1]
    assert not f.constraints
    ref = f.copy()
    ref.calc = EMT()
    assert np.allclose(f.get_forces(), ref.get_forces(), atol=1e-6)  # extxyz: 8 decimals
    assert f.get_potential_energy() == pytest.approx(ref.get_potential_energy(), abs=1e-6)


def test_truncated_file_is_repaired(tmp_path):
    out = str(tmp_path / "train.extxyz")
    plan = small_plan(cu110_c6x2_template())[:4]
    datagen.run_plan(plan, EMT, out, progress=False)
    with open(out, "rb") as f:
        data = f.read()
    with open(out, "wb") as f:
        f.write(data[:-500])  # a job killed while writing its last task
    tasks, _, n = datagen.read_done(out)
    assert plan[-1].task_id not in tasks and n == len(ase.io.read(out, index=":"))
    assert datagen.run_plan(plan, EMT, out, progress=False)["tasks"] == 1


def test_label_appends_and_skips_known_frames(tmp_path):
    out = str(tmp_path / "al.extxyz")
    rng = np.random.default_rng(0)
    t = cu110_c6x2_template()
    frames = [datagen.random_insertion(t, {"O": 2}, rng) for _ in range(3)]
    CALLS.clear()
    datagen.label(frames[:2], CountingEMT, out, progress=False)
    datagen.label(frames, CountingEMT, out, progress=False)
    assert len(CALLS) == 3
    labelled = ase.io.read(out, index=":")
    assert len(labelled) == 3 and {f.info["config_type"] for f in labelled} == {"label"}
    xz = datagen.compress_xz(out)
    assert len(ase.io.read(xz, index=":")) == 3


def test_check_frames_errors():
    o2 = Atoms("O2", positions=[[0, 0, 0], [0, 0, 1.2]])
    good = labelled(o2, energy=0.0)
    assert datagen.check_frames([good], ["O"]) == 1
    with pytest.raises(ValueError, match="empty"):
        datagen.check_frames([], ["O"])
    unlabelled = o2.copy()
    unlabelled.info["frame_id"] = "x/7"
    with pytest.raises(ValueError, match=r"frame 1 .*x/7.*no energy"):
        datagen.check_frames([good, unlabelled], ["O"])
    with pytest.raises(ValueError, match=r"frame 0 .*species \['O'\]"):
        datagen.check_frames([good], ["Cu"])
    with pytest.raises(ValueError, match="NaN"):
        datagen.check_frames([labelled(o2, energy=np.nan)], ["O"])
    bad_f = np.zeros((2, 3))
    bad_f[1, 2] = np.nan
    with pytest.raises(ValueError, match="frame 0 .*NaN"):
        datagen.check_frames([labelled(o2, forces=bad_f)], ["O"])


def test_two_worker_processes_give_the_same_file(tmp_path):
    plan = small_plan(cu110_c6x2_template())[:6]
    one, two = str(tmp_path / "one.extxyz"), str(tmp_path / "two.extxyz")
    datagen.run_plan(plan, EMT, one, workers=1, progress=False)
    datagen.run_plan(plan, EMT, two, workers=2, progress=False)
    a, b = ase.io.read(one, index=":"), ase.io.read(two, index=":")
    assert [f.info["frame_id"] for f in a] == [f.info["frame_id"] for f in b]
    assert np.allclose([f.get_potential_energy() for f in a],
                       [f.get_potential_energy() for f in b])


# ---- refgc data: any slab file, species and labeller ----------------------------------------

SMALL = ["--n-insertion", "3", "--n-relax", "2", "--n-template", "1", "--n-gas", "2", "--n-bulk", "2",
         "--relax-steps", "4", "--quiet"]


@pytest.fixture
def slab_file(tmp_path):
    from refgc.surface import cu110_slab

    path = tmp_path / "slab.extxyz"
    ase.io.write(path, cu110_slab((2, 2)))
    return path


def test_refgc_data_labels_resumes_and_never_relabels(slab_file, tmp_path, capsys):
    from refgc.cli import main

    out = tmp_path / "data.extxyz"
    assert main(["data", str(slab_file), "--species", "Cu", "O", "--labeller", "emt", "--out", str(out), *SMALL]) == 0
    frames = ase.io.read(out, index=":")
    assert {f.info["config_type"] for f in frames} >= {"insertion", "relax", "template", "gas", "bulk"}
    assert {f.info["task_id"].split("/")[1].rsplit("-", 1)[0] for f in frames} >= {"gas-O", "bulk-Cu"}
    datagen.check_frames(frames, ["Cu", "O"])
    added = [f for f in frames if f.info["config_type"] == "insertion"]
    assert all(len(f) - 16 <= 12 for f in added)  # at most 6 Cu and 6 O on the 36.9 Å² cell
    assert "added atoms up to 6 Cu, 6 O" in capsys.readouterr().out
    assert main(["data", str(slab_file), "--species", "Cu", "O", "--labeller", "emt", "--out", str(out), *SMALL]) == 0
    assert "0 new frames from 0 tasks" in capsys.readouterr().out
    assert len(ase.io.read(out, index=":")) == len(frames)


def test_refgc_data_skips_what_the_labeller_fails_on(slab_file, tmp_path, capsys):
    from refgc.cli import main

    out = tmp_path / "data.extxyz"
    args = ["data", str(slab_file), "--species", "Cu", "O", "--labeller", "flaky_labeller:flaky", "--out", str(out),
            *SMALL]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "the labeller failed on task" in captured.err and "SCF did not converge" in captured.err
    assert "the labeller failed on" in captured.out
    kept = {f.info["task_id"] for f in ase.io.read(out, index=":")}
    assert kept and all(len(f) <= 16 or len(f) % 2 == 0 for f in ase.io.read(out, index=":"))
    assert main(args) == 0  # a rerun tries only the failed tasks again
    assert {f.info["task_id"] for f in ase.io.read(out, index=":")} == kept


@pytest.mark.parametrize("labeller, message", [
    ("flaky_labeller:no_oxygen", "labeller 'flaky_labeller:no_oxygen' cannot compute O (NotImplementedError"),
    ("nonsense", "unknown labeller 'nonsense'"),
])
def test_refgc_data_refuses_before_any_work(slab_file, tmp_path, capsys, labeller, message):
    from refgc.cli import main

    out = tmp_path / "data.extxyz"
    assert main(["data", str(slab_file), "--species", "Cu", "O", "--labeller", labeller, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and not out.exists()

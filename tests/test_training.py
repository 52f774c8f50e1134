"""Training: batched forces, the loss gradient, offsets, the split, resuming, bad data."""

import re

import numpy as np
import pytest
from ase import Atoms
from ase.build import fcc110
from ase.calculators.singlepoint import SinglePointCalculator
from autograd import grad, value_and_grad

import refgc
from refgc import data as D
from refgc import training as T
from conftest import labelled

CONFIG = refgc.ModelConfig(species=("Cu", "O"), cutoff=4.0, n_features=12, n_filters=12, n_rbf=8, n_interactions=2)
SMALL = ["--cutoff", "4", "--features", "8", "--rbf", "6", "--interactions", "1", "--max-epochs", "1"]  # refgc train's tiniest model


def squeezed(atoms, frame_id):
    """``atoms`` pressed to 0.3 of its size and labelled zero: pairs inside any floor."""
    out = atoms.copy()
    out.positions *= 0.3
    out.calc = SinglePointCalculator(out, energy=0.0, forces=np.zeros((len(out), 3)))
    out.info["frame_id"] = frame_id
    return out


@pytest.fixture(scope="module")
def frames():
    rng = np.random.default_rng(0)
    out = []
    for k in range(24):
        s = fcc110("Cu", (2, 1, 3), a=3.61, vacuum=5.0)
        top = s.positions[:, 2].max()
        n = int(rng.integers(0, 3))
        s += Atoms("O" * n, positions=np.c_[rng.uniform(0, 1, (n, 2)) @ s.cell[:2, :2], top + rng.uniform(1.3, 2.2, n)])
        s.rattle(0.08, seed=k)
        s.info.pop("adsorbate_info", None)
        out.append(labelled(s, task_id=f"t{k // 3}", frame_id=f"t{k // 3}/{k % 3}"))
    return out


def test_batched_forces_equal_single_frame_gradients(frames):
    model = refgc.init_model(CONFIG, seed=2)
    E, F = T.predict(model, frames[:5], batch_size=3)
    for atoms, e, f in zip(frames[:5], E, F):
        e_ref, dx, _ = refgc.energy_and_gradients(model, atoms)
        assert e == pytest.approx(e_ref, rel=1e-12)
        np.testing.assert_allclose(f, -dx, atol=1e-12)


def huber_settings(model, batch):
    """Huber δs at the median errors of ``model`` on ``batch``: half the terms on each branch."""
    E, F = T.energies_and_forces(model.params, CONFIG, batch)
    return dict(huber_energy=float(np.median(np.abs(E - batch.energies) / batch.n_atoms)),
                huber_force=float(np.median(np.abs(F - batch.forces))))


def test_batches_keep_the_half_layout_and_compute_what_a_plain_pair_list_does(frames):
    """collate lays out every frame's unordered pairs, then their reverses, so the filters are
    computed once per unordered pair; a plain list of the same pairs (no layout, one filter per
    ordered pair) gives the same loss and gradient."""
    from refgc.graph import Graph

    model = refgc.init_model(CONFIG, seed=4)
    batch = D.collate(D.prepare(frames[:4], CONFIG))
    g, H = batch.graph, batch.graph.n_half
    assert H is not None and 2 * H == g.n_pairs
    np.testing.assert_array_equal(g.i[H:], g.j[:H])
    np.testing.assert_array_equal(g.j[H:], g.i[:H])
    plain = D.Batch(**{**batch.__dict__, "graph": Graph.from_pairs(g.i, g.j, g.offsets, len(batch.species))})
    assert plain.graph.n_half is None
    settings = T.TrainSettings()
    value, gradient = value_and_grad(T.loss)(model.params, CONFIG, batch, settings)
    value_plain, gradient_plain = value_and_grad(T.loss)(model.params, CONFIG, plain, settings)
    assert value == pytest.approx(value_plain, rel=1e-13)
    for name in gradient:
        np.testing.assert_allclose(gradient[name], gradient_plain[name], rtol=1e-11, atol=1e-13, err_msg=name)


@pytest.mark.parametrize("huber", [False, True])
def test_loss_gradient_against_finite_differences(frames, huber):
    model = refgc.init_model(CONFIG, seed=3)
    batch = D.collate(D.prepare(frames[:4], CONFIG))
    settings = T.TrainSettings(**huber_settings(model, batch) if huber else {})
    g = grad(T.loss)(model.params, CONFIG, batch, settings)
    rng = np.random.default_rng(0)
    for name in ("interactions.0.filter.0.weight", "interactions.1.in2f.weight", "embedding", "offset"):
        d = rng.standard_normal(model.params[name].shape)
        h = 1e-5
        lp = T.loss({**model.params, name: model.params[name] + h * d}, CONFIG, batch, settings)
        lm = T.loss({**model.params, name: model.params[name] - h * d}, CONFIG, batch, settings)
        assert np.sum(g[name] * d) == pytest.approx((lp - lm) / (2 * h), rel=1e-6, abs=1e-9)


def test_huber_is_squared_error_inside_delta_and_linear_beyond():
    r = np.array([-3.0, -0.5, 0.0, 0.2, 1.0, 4.0])
    np.testing.assert_array_equal(T.huber(r, 0.0), r**2)
    np.testing.assert_allclose(T.huber(r, 1.0), [5.0, 0.25, 0.0, 0.04, 1.0, 7.0])
    slope = grad(lambda x: T.huber(x, 1.0))
    assert slope(0.999999) == pytest.approx(slope(1.000001), abs=1e-5)  # same slope at |r| = δ
    assert slope(10.0) == slope(100.0) == 2.0
    with pytest.raises(ValueError, match="huber_force must be >= 0"):
        T.TrainSettings(huber_force=-0.1)


def test_huber_loss_is_below_squared_error_and_checkpoints_tell_them_apart(frames, tmp_path):
    model = refgc.init_model(CONFIG, seed=3)
    batch = D.collate(D.prepare(frames[:4], CONFIG))
    huber = huber_settings(model, batch)
    assert T.loss(model.params, CONFIG, batch, T.TrainSettings(**huber)) < T.loss(model.params, CONFIG, batch, T.TrainSettings())
    ckpt = tmp_path / "ckpt.npz"
    T.train(frames, CONFIG, settings=T.TrainSettings(max_epochs=1, batch_size=12), checkpoint=ckpt, log=None)
    with pytest.raises(ValueError, match="written for other data, config or settings"):
        T.train(frames, CONFIG, settings=T.TrainSettings(max_epochs=2, batch_size=12, **huber), checkpoint=ckpt, log=None)


def test_offsets_are_least_squares():
    frames = [D.Frame(np.array(s), None, None, e, None) for s, e in [([0, 0, 1], -5.0), ([0, 1, 1], -3.0), ([0, 0], -4.0)]]
    # E = 2·(-2) for [0, 0], and -5 = 2a + b -> b = -1; -3 = a + 2b -> -2 - 2 = -4 ≠ -3: least squares
    A = np.array([[2, 1], [1, 2], [2, 0]], dtype=float)
    expected = np.linalg.lstsq(A, [-5.0, -3.0, -4.0], rcond=None)[0]
    np.testing.assert_allclose(T.fit_offsets(frames, 2), expected)


def test_split_keeps_trajectories_together(frames):
    train_idx, val_idx = D.split(frames, 0.25, seed=1)
    assert sorted(train_idx + val_idx) == list(range(len(frames)))
    val_tasks = {frames[k].info["task_id"] for k in val_idx}
    assert not val_tasks & {frames[k].info["task_id"] for k in train_idx}
    assert len(val_idx) >= 0.25 * len(frames)


def test_training_learns_and_is_deterministic(frames):
    settings = T.TrainSettings(max_epochs=12, learning_rate=3e-3, batch_size=4, seed=5)
    a = T.train(frames, CONFIG, settings=settings, log=None)
    b = T.train(frames, CONFIG, settings=settings, log=None)
    history = a.provenance["training"]["loss_history"]
    assert history[-1][1] < 0.5 * history[0][1]  # the training loss fell
    for name in a.params:
        assert np.array_equal(a.params[name], b.params[name])


def test_resume_from_checkpoint_gives_the_same_model(frames, tmp_path):
    ckpt = tmp_path / "ckpt.npz"
    straight = T.train(frames, CONFIG, settings=T.TrainSettings(max_epochs=4, batch_size=6), log=None)
    T.train(frames, CONFIG, settings=T.TrainSettings(max_epochs=2, batch_size=6), checkpoint=ckpt, log=None)
    lines = []
    resumed = T.train(frames, CONFIG, settings=T.TrainSettings(max_epochs=4, batch_size=6), checkpoint=ckpt, log=lines.append)
    assert any("resumed" in line and "epoch 2" in line for line in lines)
    for name in straight.params:
        assert np.array_equal(straight.params[name], resumed.params[name])
    with pytest.raises(ValueError, match="written for other data"):  # more frames: not this checkpoint's run
        T.train(frames + frames[:3], CONFIG, settings=T.TrainSettings(max_epochs=5, batch_size=6), checkpoint=ckpt, log=None)


def test_bad_frames_are_named(frames):
    good = frames[0]
    no_labels = good.copy()
    no_labels.info["frame_id"] = "bare/0"
    nan = labelled(good.copy(), frame_id="nan/0")
    nan.calc.results["forces"][0, 0] = np.nan
    gold = labelled(Atoms("Au2", positions=[[0, 0, 0], [2.5, 0, 0]]), frame_id="gold/0")
    with pytest.raises(ValueError, match="frame 1 \\(frame_id='bare/0'\\) has no energy or no forces"):
        D.check_frames([good, no_labels], CONFIG.species)
    with pytest.raises(ValueError, match="frame 1 \\(frame_id='nan/0'\\) has a NaN"):
        D.check_frames([good, nan], CONFIG.species)
    with pytest.raises(ValueError, match="frame 0 \\(frame_id='gold/0'\\) has species \\['Au'\\]"):
        D.check_frames([gold], CONFIG.species)
    with pytest.raises(ValueError, match="empty dataset"):
        T.train([], CONFIG, log=None)


def test_command_line_trains_and_stores_references(frames, tmp_path):
    from ase.io import write

    from refgc.cli import main

    data = tmp_path / "data.extxyz"
    write(data, frames, format="extxyz")
    refs = tmp_path / "refs.json"
    refs.write_text('{"mu_ref": {"Cu": -3.7, "O": -4.8}, "labeller": "EMT"}')
    out = tmp_path / "model.npz"
    argv = [str(data), "--out", str(out), "--references", str(refs), "--cutoff", "4", "--features", "8",
            "--rbf", "6", "--interactions", "1", "--max-epochs", "2", "--test", str(data)]
    assert main(["train", *argv]) == 0
    model = refgc.load_model(out)
    assert model.mu_ref == {"Cu": -3.7, "O": -4.8} and model.species == ("Cu", "O")
    assert model.provenance["references"]["labeller"] == "EMT" and model.provenance["training"]["epochs"] == 2
    assert model.provenance["test"]["n_frames"] == len(frames) and model.provenance["test"]["force_mae"] > 0
    bad = tmp_path / "bad.extxyz"
    write(bad, [Atoms("Cu", positions=[[0, 0, 0]])], format="extxyz")
    assert main(["train", str(bad), "--out", str(tmp_path / "x.npz")]) == 2


def test_ema_keeps_the_running_average_of_the_steps(frames, tmp_path):
    base = T.train(frames, CONFIG, settings=T.TrainSettings(max_epochs=2, batch_size=6), log=None)
    one_step = dict(max_epochs=1, batch_size=64, validation_fraction=0.2)  # one Adam step per epoch
    plain = T.train(frames, CONFIG, settings=T.TrainSettings(**one_step), init=base, log=None)
    averaged = T.train(frames, CONFIG, settings=T.TrainSettings(**one_step, ema_decay=0.75), init=base, log=None)
    for name in base.params:  # ema = 0.75 start + 0.25 after the step, and that is what is kept
        assert np.allclose(averaged.params[name], 0.75 * base.params[name] + 0.25 * plain.params[name], rtol=0, atol=1e-14)
    assert not np.allclose(averaged.params["embedding"], plain.params["embedding"])
    # resuming restores the average too
    ckpt, settings = tmp_path / "ema.npz", dict(batch_size=6, ema_decay=0.9)
    straight = T.train(frames, CONFIG, settings=T.TrainSettings(max_epochs=4, **settings), log=None)
    T.train(frames, CONFIG, settings=T.TrainSettings(max_epochs=2, **settings), checkpoint=ckpt, log=None)
    resumed = T.train(frames, CONFIG, settings=T.TrainSettings(max_epochs=4, **settings), checkpoint=ckpt, log=None)
    for name in straight.params:
        assert np.array_equal(straight.params[name], resumed.params[name])
    with pytest.raises(ValueError, match="ema_decay must be in"):
        T.TrainSettings(ema_decay=1.0)


def test_fine_tuning_starts_from_a_model(frames, tmp_path):
    base = T.train(frames, CONFIG, settings=T.TrainSettings(max_epochs=3, batch_size=6), log=None)
    tuned = T.train(frames, CONFIG, settings=T.TrainSettings(max_epochs=1, batch_size=6, energy_weight=500.0),
                    init=base, log=None)
    fresh = T.train(frames, CONFIG, settings=T.TrainSettings(max_epochs=1, batch_size=6, energy_weight=500.0), log=None)
    first = lambda m: m.provenance["training"]["loss_history"][0][1]  # noqa: E731  first epoch's training loss
    assert first(tuned) < first(fresh)  # it did start from the trained parameters
    other = refgc.ModelConfig(**{**CONFIG.to_dict(), "n_features": 8})
    with pytest.raises(ValueError, match="config differs"):
        T.train(frames, other, init=base, log=None)


def test_command_line_fine_tuning(frames, tmp_path):
    from ase.io import write

    from refgc.cli import main

    data = tmp_path / "data.extxyz"
    write(data, frames, format="extxyz")
    base = tmp_path / "base.npz"
    refs = tmp_path / "refs.json"
    refs.write_text('{"mu_ref": {"Cu": -3.7, "O": -4.8}}')
    assert main(["train", str(data), "--out", str(base), "--references", str(refs), *SMALL]) == 0
    tuned = tmp_path / "tuned.npz"
    assert main(["train", str(data), "--out", str(tuned), "--init", str(base), "--max-epochs", "1", "--energy-weight", "300",
                 "--huber-energy", "0.002", "--huber-force", "0.05"]) == 0
    model = refgc.load_model(tuned)
    settings = model.provenance["training"]["settings"]
    assert (settings["energy_weight"], settings["huber_energy"], settings["huber_force"]) == (300, 0.002, 0.05)
    assert model.config == refgc.load_model(base).config and model.mu_ref == {"Cu": -3.7, "O": -4.8}
    assert model.provenance["fine_tuned_from"]["file"] == str(base)
    assert main(["train", str(data), "--out", str(tuned), "--init", str(base), "--cutoff", "5"]) == 2  # conflicting options


def test_command_line_prior_and_max_force(frames, tmp_path, capsys):
    from ase.io import write

    from refgc.cli import main

    hot = frames[0].copy()
    hot.calc = SinglePointCalculator(hot, energy=frames[0].get_potential_energy(), forces=frames[0].get_forces() * 0 + 500.0)
    hot.info["frame_id"] = "hot/0"
    data = tmp_path / "data.extxyz"
    write(data, [*frames, hot], format="extxyz")
    base, tuned = tmp_path / "base.npz", tmp_path / "tuned.npz"
    assert main(["train", str(data), "--out", str(base), "--max-force", "100", "--prior-strength", "50", *SMALL]) == 0
    assert "left out frame hot/0: a force component of 500.0 eV/Å" in capsys.readouterr().out
    model = refgc.load_model(base)
    assert model.config.prior_strength == 50 and model.provenance["n_left_out"] == 1
    assert model.provenance["n_frames"] == len(frames)
    # fine-tuning may change the prior (it has no parameters), but nothing else of the architecture
    assert main(["train", str(data), "--out", str(tuned), "--init", str(base), "--max-epochs", "1",
                 "--prior-strength", "1000", "--prior-radius-scale", "0.7", "--floor-radius-scale", "0.6"]) == 0
    cfg = refgc.load_model(tuned).config
    assert (cfg.prior_strength, cfg.prior_radius_scale, cfg.floor_radius_scale) == (1000, 0.7, 0.6)
    assert model.config.floor_radius_scale == 0.0
    assert cfg.n_features == model.config.n_features


def test_drop_large_forces_splits_by_the_largest_component(frames):
    kept, dropped = D.drop_large_forces(frames, 0.0)
    assert kept == [] and len(dropped) == len(frames)
    fmax = max(np.abs(a.get_forces()).max() for a in frames)
    kept, dropped = D.drop_large_forces(frames, fmax)
    assert len(kept) == len(frames) and dropped == []


def test_with_prior_changes_only_the_prior():
    model = refgc.init_model(CONFIG, seed=1, mu_ref={"Cu": -3.7, "O": -4.8})
    stiff = model.with_prior(strength=1000.0)
    assert (stiff.config.prior_strength, stiff.config.prior_radius_scale) == (1000.0, CONFIG.prior_radius_scale)
    assert stiff.params is model.params and stiff.mu_ref == model.mu_ref
    assert model.with_prior(radius_scale=0.75).config.prior_strength == CONFIG.prior_strength
    assert model.with_prior().config == CONFIG


def assert_same_function(model, other, atoms, rtol, atol):
    """Equal energies and gradients of two models on ``atoms`` at q from 0.2 to 1, by both
    backward paths."""
    from refgc.graph import build_graph
    from refgc.system import system_from_atoms

    s = system_from_atoms(model.species, atoms, np.linspace(0.2, 1.0, len(atoms)))
    g = build_graph(s.positions, s.cell, s.pbc, model.cutoff)
    for method in ("backward", "autograd"):
        a, b = (m.evaluate(s.species, s.positions, s.q, g, method=method) for m in (model, other))
        assert a[0] == pytest.approx(b[0], rel=1e-12)
        assert np.allclose(a[1], b[1], rtol=rtol, atol=atol) and np.allclose(a[2], b[2], rtol=rtol, atol=atol)


def test_with_interactions_grows_a_model_that_computes_the_same(frames, tmp_path):
    """Added blocks start with a zero last layer: the same energy and forces (both backward
    paths) until training moves them; then the new block changes and the loss falls."""
    from ase.io import write

    from refgc.cli import main

    model = T.train(frames, CONFIG, settings=T.TrainSettings(max_epochs=2, batch_size=6), log=None)
    grown = model.with_interactions(3)
    assert grown.config.n_interactions == 3 and grown.mu_ref == model.mu_ref
    assert_same_function(model, grown, frames[5], rtol=1e-12, atol=1e-14)
    assert not np.any(grown.params["interactions.2.f2out.1.weight"])
    assert np.any(grown.params["interactions.2.filter.0.weight"])
    tuned = T.train(frames, grown.config, settings=T.TrainSettings(max_epochs=1, batch_size=6), init=grown, log=None)
    assert np.any(tuned.params["interactions.2.f2out.1.weight"])
    with pytest.raises(ValueError, match="cannot shrink"):
        grown.with_interactions(2)
    # on the command line: --init with a larger --interactions grows; a smaller one is refused
    data, base, out = tmp_path / "data.extxyz", tmp_path / "base.npz", tmp_path / "grown.npz"
    write(data, frames, format="extxyz")
    refgc.save_model(model, base)
    assert main(["train", str(data), "--out", str(out), "--init", str(base), "--interactions", "3", "--max-epochs", "1"]) == 0
    saved = refgc.load_model(out)
    assert saved.config.n_interactions == 3 and saved.provenance["fine_tuned_from"]["grown_from_interactions"] == 2
    assert main(["train", str(data), "--out", str(out), "--init", str(base), "--interactions", "1"]) == 2
    assert main(["train", str(data), "--out", str(out), "--init", str(base), "--features", "4"]) == 2  # narrower
    assert main(["train", str(data), "--out", str(out), "--init", str(base), "--cutoff", "3.9"]) == 2


def test_with_width_widens_a_model_that_computes_the_same(frames, tmp_path):
    """New features start at zero and new units reach no old one: the same energy and
    gradients (both backward paths); the zero blocks get gradients, so training moves them."""
    from ase.io import write

    from refgc.cli import main

    model = T.train(frames, CONFIG, settings=T.TrainSettings(max_epochs=2, batch_size=6), log=None)
    A, F = CONFIG.n_features, CONFIG.n_filters
    wide = model.with_width(A + 6, F + 4, seed=1)
    assert (wide.config.n_features, wide.config.n_filters) == (A + 6, F + 4) and wide.mu_ref == model.mu_ref
    assert_same_function(model, wide, frames[5], rtol=1e-10, atol=1e-12)
    last = f"interactions.{CONFIG.n_interactions - 1}.f2out.1.weight"
    assert not np.any(wide.params[last][:, A:])
    tuned = T.train(frames, wide.config, settings=T.TrainSettings(max_epochs=1, batch_size=6), init=wide, log=None)
    assert np.any(tuned.params[last][:, A:]) and np.any(tuned.params["embedding"][:, A:] != 0)
    with pytest.raises(ValueError, match="cannot narrow"):
        wide.with_width(A)
    data, base, out = tmp_path / "data.extxyz", tmp_path / "base.npz", tmp_path / "wide.npz"
    write(data, frames, format="extxyz")
    refgc.save_model(model, base)
    assert main(["train", str(data), "--out", str(out), "--init", str(base), "--features", str(A + 6),
                 "--max-epochs", "1"]) == 0
    saved = refgc.load_model(out)
    assert (saved.config.n_features, saved.config.n_filters) == (A + 6, F + 6)
    assert saved.provenance["fine_tuned_from"]["widened_from"] == {"features": A, "filters": F}


def test_command_line_validation_from_one_data_file(frames, tmp_path, capsys):
    """--validation-from FILE validates on a split of FILE alone and trains on everything else."""
    from ase.io import write

    from refgc.cli import main

    old, new = tmp_path / "old.extxyz", tmp_path / "new.extxyz"
    write(old, frames[:12], format="extxyz")
    write(new, frames[12:], format="extxyz")
    out = tmp_path / "m.npz"
    argv = ["train", str(old), str(new), "--out", str(out), *SMALL, "--validation-fraction", "0.5"]
    assert main([*argv, "--validation-from", str(new)]) == 0
    assert f"training on {12 + len(frames[12:]) // 2} frames, validating on {len(frames[12:]) // 2}" in capsys.readouterr().out
    model = refgc.load_model(out)
    assert model.provenance["validation_from"] == str(new)
    assert model.provenance["training"]["validation"]["n_frames"] == len(frames[12:]) // 2
    assert main([*argv, "--validation-from", f"{tmp_path}/./new.extxyz"]) == 0  # the same file, spelt otherwise
    assert f"validating on {len(frames[12:]) // 2}" in capsys.readouterr().out
    assert main([*argv, "--validation-from", str(tmp_path / "other.extxyz")]) == 2
    assert "is not one of the DATA files" in capsys.readouterr().err
    assert main([*argv, "--validation-from", str(new), "--validation", str(old)]) == 2
    assert "not both" in capsys.readouterr().err
    # several files: a split of each; a file named twice is trained on twice, validated on once
    assert main(["train", str(old), str(new), str(new), "--out", str(out), *SMALL, "--validation-fraction", "0.5",
                 "--validation-from", str(old), str(new)]) == 0
    n_old, n_new = 12 // 2, len(frames[12:]) // 2
    assert f"training on {n_old + 2 * (len(frames[12:]) - n_new)} frames, validating on {n_old + n_new}" \
        in capsys.readouterr().out
    assert refgc.load_model(out).provenance["validation_from"] == [str(old), str(new)]


@pytest.mark.parametrize("suffix", [".xz", ".gz", ".bz2"])
def test_read_frames_reads_compressed_files_whole(frames, tmp_path, suffix):
    """Compressed extended XYZ gives the same frames (labels, info) as the plain file."""
    import bz2
    import gzip
    import lzma

    from ase.io import write

    plain = tmp_path / "data.extxyz"
    write(plain, frames, format="extxyz")
    packed = tmp_path / f"data.extxyz{suffix}"
    opener = {".xz": lzma.open, ".gz": gzip.open, ".bz2": bz2.open}[suffix]
    with opener(packed, "wb") as f:
        f.write(plain.read_bytes())
    got, want = D.read_frames(packed), D.read_frames(plain)
    assert len(got) == len(want) == len(frames)
    for a, b in zip(got, want):
        assert np.array_equal(a.positions, b.positions) and np.array_equal(a.get_forces(), b.get_forces())
        assert a.get_potential_energy() == b.get_potential_energy() and a.info == b.info
    assert len(D.read_frames(plain, packed)) == 2 * len(frames)
    bad = tmp_path / f"data{suffix}"
    bad.write_bytes(packed.read_bytes())
    with pytest.raises(ValueError, match="expected an extended XYZ file"):
        D.read_frames(bad)


def test_checkpoint_metrics_script_rebuilds_the_best_model(frames, tmp_path):
    """scripts/checkpoint_metrics.py reads a running job's best parameters; the widths come
    from the parameter shapes, not from the --like model."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[1] / "scripts" / "checkpoint_metrics.py"
    spec = importlib.util.spec_from_file_location("checkpoint_metrics", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    ckpt = tmp_path / "ckpt.npz"
    trained = T.train(frames, CONFIG, settings=T.TrainSettings(max_epochs=2, batch_size=6), checkpoint=ckpt, log=None)
    like = refgc.init_model(refgc.ModelConfig(species=("Cu", "O"), cutoff=4.0, n_features=7, n_filters=5, n_rbf=3,
                                              n_interactions=1), seed=0)
    model, state = script.load_best(ckpt, like)
    assert state["epoch"] == 2
    assert model.config == trained.config
    assert T.metrics(model, frames) == T.metrics(trained, frames)
    with pytest.raises(ValueError, match="no best/ parameters"):
        np.savez(tmp_path / "other.npz", state=np.array("{}"))
        script.load_best(tmp_path / "other.npz", like)


def test_a_training_step_is_adam_on_the_loss_gradient(frames):
    """One epoch of one batch: the trainer's step is Adam on grad(loss) of the frames in its
    shuffled order, and the training loss it records is loss() of that batch."""
    base = T.train(frames, CONFIG, settings=T.TrainSettings(max_epochs=2, batch_size=6), log=None)
    settings = T.TrainSettings(max_epochs=1, batch_size=64, validation_fraction=0.2, learning_rate=2e-3, seed=3)
    trained = T.train(frames, CONFIG, settings=settings, init=base, log=None)

    train_idx, _ = D.split(frames, settings.validation_fraction, settings.seed)
    train_set = D.prepare([frames[k] for k in train_idx], CONFIG)
    order = np.random.default_rng([settings.seed, 0]).permutation(len(train_set))
    batch = D.collate([train_set[m] for m in order])
    params = {k: np.array(v) for k, v in base.params.items()}
    expected_loss = float(T.loss(params, CONFIG, batch, settings))
    T.Adam(params).step(params, grad(T.loss)(params, CONFIG, batch, settings), settings.learning_rate)
    for name in params:
        assert np.array_equal(trained.params[name], params[name]), name
    assert trained.provenance["training"]["loss_history"][0][1] == pytest.approx(expected_loss, rel=1e-12)


def test_workers_share_a_batch_and_give_the_one_process_gradient(frames, tmp_path):
    """workers = 2 splits every batch over two forked processes: the same step as one process
    up to rounding; a checkpoint written with one process resumes with two."""
    base = T.train(frames, CONFIG, settings=T.TrainSettings(max_epochs=2, batch_size=6), log=None)
    one_step = dict(max_epochs=1, batch_size=64, validation_fraction=0.2, learning_rate=2e-3, seed=3)
    serial = T.train(frames, CONFIG, settings=T.TrainSettings(**one_step), init=base, log=None)
    parallel = T.train(frames, CONFIG, settings=T.TrainSettings(**one_step, workers=2), init=base, log=None)
    moved = 0.0
    for name in serial.params:
        np.testing.assert_allclose(parallel.params[name], serial.params[name], rtol=1e-9, atol=1e-12, err_msg=name)
        moved = max(moved, float(np.max(np.abs(serial.params[name] - base.params[name]))))
    assert moved > 1e-4  # the step did move the parameters: the comparison means something
    assert parallel.provenance["training"]["loss_history"][0][1] == pytest.approx(
        serial.provenance["training"]["loss_history"][0][1], rel=1e-12)

    ckpt, settings = tmp_path / "w.npz", dict(batch_size=6, seed=1)
    straight = T.train(frames, CONFIG, settings=T.TrainSettings(max_epochs=3, **settings), log=None)
    T.train(frames, CONFIG, settings=T.TrainSettings(max_epochs=2, **settings), checkpoint=ckpt, log=None)
    lines = []
    resumed = T.train(frames, CONFIG, settings=T.TrainSettings(max_epochs=3, workers=3, **settings),
                      checkpoint=ckpt, log=lines.append)
    assert any("resumed" in line for line in lines)
    for name in straight.params:
        np.testing.assert_allclose(resumed.params[name], straight.params[name], rtol=1e-7, atol=1e-10, err_msg=name)
    for bad in (0, 1.5):
        with pytest.raises(ValueError, match="workers must be an integer >= 1"):
            T.TrainSettings(workers=bad)

    from ase.io import write

    from refgc.cli import main

    data, out = tmp_path / "data.extxyz", tmp_path / "model.npz"
    write(data, frames, format="extxyz")
    assert main(["train", str(data), "--out", str(out), "--cutoff", "4", "--features", "8", "--rbf", "6",
                 "--interactions", "1", "--max-epochs", "1", "--workers", "2"]) == 0
    assert refgc.load_model(out).provenance["training"]["settings"]["workers"] == 2
    assert main(["train", str(data), "--out", str(out), "--workers", "0"]) == 2


def test_frames_inside_the_floor_are_left_out_and_listed(frames, tmp_path, capsys):
    """Below its floor the network cannot follow a label (only the fixed prior acts there), so
    training with a floor leaves such frames out and names them."""
    from ase.io import write

    from refgc.cli import main
    from refgc.data import closest_inside_floor

    inside = squeezed(frames[0], "squeezed/0")
    data = tmp_path / "data.extxyz"
    write(data, [*frames, inside], format="extxyz")
    config = refgc.ModelConfig(species=("Cu", "O"), floor_radius_scale=0.4)
    assert closest_inside_floor(inside, config) is not None
    assert all(closest_inside_floor(a, config) is None for a in frames)
    assert main(["train", str(data), "--out", str(tmp_path / "m.npz"), "--floor-radius-scale", "0.4", *SMALL]) == 0
    assert re.search(r"left out frame squeezed/0: (Cu|O)–(Cu|O) at \d\.\d\d Å, inside the network's floor of \d\.\d\d Å",
                     capsys.readouterr().out)
    model = refgc.load_model(tmp_path / "m.npz")
    assert model.provenance["n_inside_floor"] == 1 and model.provenance["n_frames"] == len(frames)


def test_validation_frames_inside_the_floor_are_listed_too(frames, tmp_path, capsys):
    """A validation frame inside the floor is left out of the validation loss and named, as a
    training frame is."""
    from ase.io import write

    from refgc.cli import main

    data, validation = tmp_path / "data.extxyz", tmp_path / "validation.extxyz"
    write(data, frames, format="extxyz")
    write(validation, [frames[1], squeezed(frames[0], "squeezed/1")], format="extxyz")
    assert main(["train", str(data), "--validation", str(validation), "--out", str(tmp_path / "m.npz"),
                 "--floor-radius-scale", "0.4", *SMALL]) == 0
    out = capsys.readouterr().out
    assert re.search(r"left out validation frame squeezed/1: (Cu|O)–(Cu|O) at \d\.\d\d Å, inside", out)
    assert "left out frame" not in out

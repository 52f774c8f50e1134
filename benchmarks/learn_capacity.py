"""How each learn round trades accuracy: energy and force MAE of the default model and the
rounds' models on the training frames, each round's visits and held-out visits, any further
labelled visits in LEARN/*.extxyz.xz, the test frames, and the other facets' test frames in
data/facets/*test.extxyz.xz.

    python benchmarks/learn_capacity.py [--learn LEARN [LEARN ...]] [MORE.npz ...]   # writes runs/capacity.json

LEARN: `refgc learn` folders (default data/default/learn); their rounds' models are scored
too. MORE: other models to score on the same frames (e.g. a consolidation of the rounds).

If every round raises the error on the frames it was trained on while the visits it was
trained on stay well above them, the network (or its fine-tuning schedule) cannot fit both.
"""
import argparse
import json
from pathlib import Path

from refgc import load_model, read_frames
from refgc.training import metrics

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--learn", type=Path, nargs="+", default=[Path("data/default/learn")], help="refgc learn folders")
parser.add_argument("more", nargs="*", help="other model files to score")
args = parser.parse_args()
DATA = Path("data/default")
rounds = [r for learn in args.learn for r in sorted(learn.glob("round-*"), key=lambda p: int(p.name.split("-")[1]))]


def name(r):
    return r.name if len(args.learn) == 1 else f"{r.parent.name}/{r.name}"


models = {"default": None, **{name(r): r / "model.npz" for r in rounds if (r / "model.npz").exists()},
          **{Path(p).stem: Path(p) for p in args.more}}
sets = {"train (every 8th frame)": sum((read_frames(DATA / f)[::8] for f in
                                        ("train.extxyz.xz", "train2.extxyz.xz", "train3.extxyz.xz")), []),
        **{f"{name(r)} {kind}": read_frames(r / f"{kind}.extxyz") for r in rounds for kind in ("visits", "heldout")
           if (r / f"{kind}.extxyz").exists()},
        **{f.name.split(".")[0]: read_frames(f) for learn in args.learn for f in sorted(learn.glob("*.extxyz.xz"))},
        "test (held out)": read_frames(DATA / "test.extxyz.xz"),
        **{f"facets {f.name.split('.')[0]}": read_frames(f) for f in sorted(Path("data/facets").glob("*test.extxyz.xz"))}}
out = {}
for model_name, path in models.items():
    model = load_model(path)
    for label, frames in sets.items():
        r = metrics(model, frames)
        out[f"{model_name} | {label}"] = r
        print(f"{model_name:12s} {label:30s} n={r['n_frames']:4d}  E {1e3 * r['energy_mae_per_atom']:6.2f} meV/atom  "
              f"F {r['force_mae']:.3f} eV/Å", flush=True)
Path("runs").mkdir(exist_ok=True)
Path("runs/capacity.json").write_text(json.dumps(out, indent=1))

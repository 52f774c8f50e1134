"""Make a trained model the shipped one, with a provenance a reader can follow.

    python scripts/ship_model.py MODEL.npz [--out refgc/models/default.npz] [--like refgc/models/default.npz]

The parameters are copied unchanged (their digest is checked). The provenance is cleaned:

* every path is shown relative to the repository (no machine's absolute path);
* a model it was fine-tuned from that the repository does not keep (an intermediate of
  ``refgc learn`` or of a consolidation) keeps its record, marked ``"kept": false``; a
  ``refgc learn`` folder's ``model.npz`` is named by the round model it copies;
* a record of a re-save that trained nothing (0 epochs) is replaced by the run it re-saved,
  so the top record is the training that made the parameters.

``--like``: a model file whose bulk compounds (``bulk_phases``) are carried over when
MODEL has none (they are the labeller's, not the network's).

A model made by fine-tuning (``refgc learn`` rounds) may not record the labeller's
references or its test errors at the top. The shipped file does: the references are taken
from the nearest ancestor that records them (they must be the model's ``mu_ref``), and the
test errors are computed on ``--test`` when the provenance has none.
"""

import argparse
import json
import os

import refgc
from refgc.data import read_frames
from refgc.modelfile import lineage, parameters_digest
from refgc.training import metrics

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(refgc.__file__)))


def shown(path):
    """A path relative to the repository when inside it, else its file name."""
    absolute = os.path.abspath(os.path.join(ROOT, path)) if not os.path.isabs(path) else path
    return os.path.relpath(absolute, ROOT) if absolute.startswith(ROOT + os.sep) else os.path.basename(absolute)


def kept_copy(path):
    """``path``, or, for the ``model.npz`` of a ``refgc learn`` folder that the repository
    does not keep, the round model it is a copy of (``learn.json``: the last kept model)."""
    folder = os.path.join(ROOT, os.path.dirname(path))
    state = os.path.join(folder, "learn.json")
    if os.path.basename(path) != "model.npz" or os.path.exists(os.path.join(ROOT, path)) or not os.path.exists(state):
        return path
    with open(state) as f:
        rounds = json.load(f)["rounds"]
    return shown(rounds[-1]["kept_model"]) if rounds else path


def clean(provenance):
    """The provenance with relative paths, 0-epoch re-saves folded, lost ancestors marked."""
    provenance = dict(provenance)
    parent = provenance.get("fine_tuned_from")
    if parent and provenance.get("training", {}).get("epochs") == 0:  # a re-save: the run it re-saved is the record
        folded = dict(parent["provenance"])
        for key in ("evaluation", "accuracy_bar_met"):
            if key in provenance:
                folded[key] = provenance[key]
        return clean(folded)
    if "data" in provenance:
        provenance["data"] = [shown(p) for p in provenance["data"]]
    if isinstance(provenance.get("validation_from"), list):
        provenance["validation_from"] = [shown(p) for p in provenance["validation_from"]]
    elif provenance.get("validation_from"):
        provenance["validation_from"] = shown(provenance["validation_from"])
    for key in ("test", "evaluation"):
        record = provenance.get(key)
        if isinstance(record, dict):
            record = dict(record)
            for field in ("file", "test_file", "model"):
                if record.get(field):
                    record[field] = shown(record[field])
            provenance[key] = record
    if parent:
        path = kept_copy(shown(parent["file"]))
        provenance["fine_tuned_from"] = {"file": path, "kept": os.path.exists(os.path.join(ROOT, path)),
                                         "provenance": clean(parent["provenance"])}
    return provenance


def with_references_and_test(model, test):
    """``model.provenance`` with ``references`` (from the nearest ancestor) and ``test``
    (computed on the frames in ``test`` if not recorded) at the top."""
    provenance = dict(model.provenance)
    if "references" not in provenance:
        found = next((p["references"] for p in lineage(provenance) if "references" in p), None)
        if found is None:
            raise SystemExit("ship_model: no model in the provenance records the labeller's references")
        if any(abs(found["mu_ref"][s] - model.mu_ref[s]) > 1e-9 for s in model.mu_ref):
            raise SystemExit("ship_model: the recorded references' mu_ref differ from the model's")
        provenance["references"] = found
    if "test" not in provenance:
        provenance["test"] = {"file": test, **metrics(model, read_frames(test))}
    return provenance


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--out", default=os.path.join(ROOT, "refgc", "models", "default.npz"))
    ap.add_argument("--like", default=os.path.join(ROOT, "refgc", "models", "default.npz"))
    ap.add_argument("--test", default=os.path.join("data", "default", "test.extxyz.xz"),
                    help="held-out frames to score when the provenance records no test errors")
    args = ap.parse_args()
    model = refgc.load_model(args.model)
    digest = parameters_digest(model.params)
    model.provenance = clean(with_references_and_test(model, args.test))
    if not model.bulk_phases and os.path.exists(args.like):
        model.bulk_phases = refgc.load_model(args.like).bulk_phases
    refgc.save_model(model, args.out)
    assert parameters_digest(refgc.load_model(args.out).params) == digest
    print(f"wrote {shown(args.out)} (parameters {digest[:12]}, unchanged)")


if __name__ == "__main__":
    main()

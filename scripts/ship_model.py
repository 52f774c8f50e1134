"""Make a trained model the shipped one, with a provenance a reader can follow.

    python scripts/ship_model.py MODEL.npz [--out refgc/models/default.npz] [--like refgc/models/default.npz]

The parameters are copied unchanged (their digest is checked). The provenance is cleaned:

* every path is shown relative to the repository (no machine's absolute path);
* a model it was fine-tuned from that the repository does not keep (an intermediate of
  ``refgc learn`` or of a consolidation) keeps its record, marked ``"kept": false``;
* a record of a re-save that trained nothing (0 epochs) is replaced by the run it re-saved,
  so the top record is the training that made the parameters.

``--like``: a model file whose bulk compounds (``bulk_phases``) are carried over when
MODEL has none (they are the labeller's, not the network's).
"""

import argparse
import os

import refgc
from refgc.modelfile import parameters_digest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(refgc.__file__)))


def shown(path):
    """A path relative to the repository when inside it, else its file name."""
    absolute = os.path.abspath(os.path.join(ROOT, path)) if not os.path.isabs(path) else path
    return os.path.relpath(absolute, ROOT) if absolute.startswith(ROOT + os.sep) else os.path.basename(absolute)


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
        path = shown(parent["file"])
        provenance["fine_tuned_from"] = {"file": path, "kept": os.path.exists(os.path.join(ROOT, path)),
                                         "provenance": clean(parent["provenance"])}
    return provenance


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--out", default=os.path.join(ROOT, "refgc", "models", "default.npz"))
    ap.add_argument("--like", default=os.path.join(ROOT, "refgc", "models", "default.npz"))
    args = ap.parse_args()
    model = refgc.load_model(args.model)
    digest = parameters_digest(model.params)
    model.provenance = clean(model.provenance)
    if not model.bulk_phases and os.path.exists(args.like):
        model.bulk_phases = refgc.load_model(args.like).bulk_phases
    refgc.save_model(model, args.out)
    assert parameters_digest(refgc.load_model(args.out).params) == digest
    print(f"wrote {shown(args.out)} (parameters {digest[:12]}, unchanged)")


if __name__ == "__main__":
    main()

"""The effect oracle of the SavedModel safety tests, run as a child process in the watched
directory: loads each model directory given through robust_keras's own loader
(``export.load_model``; untrusted, or trusted for the directories after ``--trusted``), calls it
on a batch of ones, and prints one JSON line per model: ``{"model": dir, "trusted": bool,
"status": "refused" | "called" | "failed", "values": [...logits...], "written": [new files]}``,
``written`` being the files that appeared under the working directory while that model loaded
and ran.

The tests judge by effect, not by what the check says: new files in the watched tree, and a
secret checkpoint's values in the logits.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from robust_keras.errors import ModelError  # noqa: E402
from robust_keras.export import load_model  # noqa: E402


def _files() -> set[str]:
    return {os.path.join(d, f) for d, _, files in os.walk(".") for f in files}


def main(argv: list[str]) -> None:
    trusted = False
    for directory in argv:
        if directory == "--trusted":
            trusted = True
            continue
        before = _files()
        result = {"model": directory, "trusted": trusted, "status": "called", "values": []}
        try:
            model = load_model(directory, trusted=trusted)
            result["values"] = np.asarray(model(np.ones([2, 28, 28, 1], np.float32))).ravel().tolist()
        except ModelError as e:
            result["status"] = "refused" if "not pure computation" in str(e) or "TF1" in str(e) else "failed"
            result["error"] = str(e)
        except Exception as e:  # a mutated model that does not load or run: no verdict on safety
            result["status"] = "failed"
            result["error"] = f"{type(e).__name__}: {str(e)[:200]}"
        result["written"] = sorted(_files() - before)
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

"""The effect oracle of the SavedModel safety tests, run as a child process: loads each model
directory given through robust_keras's own loader (``export.load_model``; untrusted unless
``--trusted``), calls it on a batch of ones, and prints one JSON line per model:
``{"model": dir, "status": "refused" | "called" | "failed", "values": [...logits...]}``.

The parent judges by effect, not by what the check says: it watches a directory tree for new
files and looks for a secret checkpoint's values in the logits.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from robust_keras.errors import ModelError  # noqa: E402
from robust_keras.export import load_model  # noqa: E402


def main(argv: list[str]) -> None:
    trusted = "--trusted" in argv
    for directory in (a for a in argv if a != "--trusted"):
        result = {"model": directory, "status": "called", "values": []}
        try:
            model = load_model(directory, trusted=trusted)
            result["values"] = np.asarray(model(np.ones([2, 28, 28, 1], np.float32))).ravel().tolist()
        except ModelError as e:
            result["status"] = "refused" if "not pure computation" in str(e) or "TF1" in str(e) else "failed"
            result["error"] = str(e)
        except Exception as e:  # a mutated model that does not load or run: no verdict on safety
            result["status"] = "failed"
            result["error"] = f"{type(e).__name__}: {str(e)[:200]}"
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

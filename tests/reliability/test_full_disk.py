"""A real full disk: the run directory on a small tmpfs (mounted in a private user and mount
namespace, gone when the test ends), filled by a fail point just before TensorFlow writes a
checkpoint, an export or an adversarial shard. Each ends in one line and exit 1, leaves no
partial file, and the same command resumes once space is free."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT

pytestmark = pytest.mark.e2e  # whole runs on a full tmpfs: out of the inner loop (pytest -m 'not e2e')

TRAIN = "--flagfile=flags/train_mnist_sample.flags --max_train_examples=400 --epochs=2 --val_fraction=0"

_SHARDS = """
import numpy as np, sys
from robust_keras.data import adversarial
from robust_keras.failures import describe_failure
rng = np.random.default_rng(0)
kwargs = dict(images=rng.random((9, 4, 4, 1), dtype=np.float32), orig_labels=np.arange(9) % 3,
              targets=(np.arange(9) + 1) % 3, attack_fn=lambda x, t, s: (x, np.ones(len(x), bool)),
              spec={"dataset": "toy"}, shard_size=3, batch_size=3, seed=0, log=lambda _: None)
try:
    adversarial.generate(sys.argv[1], **kwargs)
except Exception as e:
    print("SHARD_ERROR", describe_failure(e))
"""


def _script(fs: str, tmp) -> str:
    main = f"{sys.executable} -m robust_keras.main {TRAIN} --output_dir={fs}/run --mlflow_tracking_uri=sqlite:///{tmp}/m.db"
    listing = f"echo LISTING; (cd {fs} && find . -name '*.tmp*' -o -name '*.partial' -o -name '*_temp*' | sort)"
    return "\n".join(
        [
            f"mount -t tmpfs -o size=96m tmpfs {fs} || exit 97",
            f"ROBUST_KERAS_FAILPOINT=disk_full_before_checkpoint:2 {main}; echo RC1=$?",
            listing,
            f"cat {fs}/run/checkpoints/model/checkpoint; rm -f {fs}/run/checkpoints/model/.filler",
            f"ROBUST_KERAS_FAILPOINT=disk_full_before_export {main}; echo RC2=$?",
            listing,
            f"rm -f {fs}/run/models/.filler; {main}; echo RC3=$?",
            f"ls {fs}/run/models",
            f"ROBUST_KERAS_FAILPOINT=disk_full_before_shard:2 {sys.executable} -c '{_SHARDS}' {fs}/shards",
            listing,
            f"cat {fs}/shards/manifest.json",
        ]
    )


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare (util-linux) for a private tmpfs")
def test_a_full_disk_at_checkpoint_export_and_shard_is_one_line_and_resumable(tmp_path):
    fs = tmp_path / "fs"
    fs.mkdir()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": ROOT}
    env.pop("ROBUST_KERAS_FAILPOINT", None)
    proc = subprocess.run(
        ["unshare", "-rm", "sh", "-c", _script(str(fs), tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode == 97 or "RC1=" not in proc.stdout:
        pytest.skip(f"no private tmpfs here: {proc.stderr[-300:]}")
    out, err = proc.stdout, proc.stderr
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert "RC1=1" in out and "RC2=1" in out and "RC3=0" in out, err[-3000:]
    assert len(errors) == 2 and all("No space left on device while writing" in e for e in errors), err[-3000:]
    assert "Traceback" not in err
    assert "/checkpoints/model/" in errors[0] and "/models/" in errors[1]
    listings = [block.split("\n", 1)[1] for block in out.split("LISTING\n")[1:]]
    partial = [ln for block in listings for ln in block.splitlines() if ln.startswith("./")]
    assert partial == [], partial  # no half-written checkpoint, export or shard stays behind
    assert 'model_checkpoint_path: "ckpt-1"' in out  # epoch 1's checkpoint survived the failed save of epoch 2
    assert "model" in out.split("RC3=0")[1]  # the third run resumed and exported
    shard_line = next(line for line in out.splitlines() if line.startswith("SHARD_ERROR"))
    assert "No space left on device while writing" in shard_line and "shard-00001-of-00003" in shard_line
    manifest = json.loads(out[out.rindex('{\n  "complete"') :])
    assert [s["name"] for s in manifest["shards"]] == ["shard-00000-of-00003.tfrecord"]

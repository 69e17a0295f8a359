"""The Bazel build (optional path): builds and runs //:main offline. Skipped without `bazel`
(Debian: apt-get install bazel-bootstrap)."""

import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.skipif(shutil.which("bazel") is None, reason="bazel not installed (apt-get install bazel-bootstrap)")
def test_bazel_builds_and_runs_main():
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}
    try:
        proc = subprocess.run(
            ["bazel", "run", "//:main", "--", "--experiment=nope"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
    finally:  # no Bazel server left running after the suite
        subprocess.run(["bazel", "shutdown"], cwd=ROOT, env=env, capture_output=True, timeout=120)
    expected = "error: --experiment=nope is not a known experiment -- pick one of: clean_pathways"
    assert expected in proc.stderr, proc.stderr[-3000:]

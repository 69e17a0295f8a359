"""TensorFlow's start-up noise in a fresh process: its two native banners once at most, the absl
warning never."""

import subprocess
import sys

from conftest import ROOT


def test_tensorflow_imports_with_each_native_line_once_and_no_absl_warning():
    code = "from robust_keras.quiet_tensorflow import import_tensorflow; import_tensorflow(); print('imported')"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "imported", proc.stderr[-2000:]
    assert "absl::InitializeLog" not in proc.stderr
    assert proc.stderr.count("oneDNN custom operations") <= 1

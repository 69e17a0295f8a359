"""TensorFlow's start-up noise: its two native banners once at most, the absl warning never, and
the retracing warning dropped only for first traces of attack objects."""

import logging
import subprocess
import sys

from conftest import ROOT

from robust_keras import quiet_tensorflow


def test_tensorflow_imports_with_each_native_line_once_and_no_absl_warning():
    code = "from robust_keras.quiet_tensorflow import import_tensorflow; import_tensorflow(); print('imported')"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "imported", proc.stderr[-2000:]
    assert "absl::InitializeLog" not in proc.stderr
    assert proc.stderr.count("oneDNN custom operations") <= 1


def test_only_the_retracing_warning_of_attack_objects_is_dropped():
    keep = quiet_tensorflow._AttackTraceFilter()

    def passes(message: str) -> bool:
        return keep.filter(logging.LogRecord("tensorflow", logging.WARNING, __file__, 1, message, None, None))

    attack = (
        "5 out of the last 5 calls to <bound method PGD._attack of <robust_keras.attacks.pgd.PGD object at 0x7f>> "
        "triggered tf.function retracing. Tracing is expensive"
    )
    other = "5 out of the last 5 calls to <function train_step at 0x7f> triggered tf.function retracing."
    assert not passes(attack) and passes(other) and passes("an unrelated warning")

"""TensorFlow's retracing warning dropped only for first traces of attack objects (the start-up
banners of a fresh process: tests/e2e/test_quiet_startup.py)."""

import logging

from robust_keras import quiet_tensorflow


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

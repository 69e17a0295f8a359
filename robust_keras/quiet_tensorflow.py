"""Importing TensorFlow without its start-up noise.

Each of TensorFlow's two native libraries initialises its own logging and prints, on import, the
same two lines to the process's stderr (file descriptor 2, below Python): a warning that log
messages precede ``absl::InitializeLog`` and the oneDNN notice. ``TF_CPP_MIN_LOG_LEVEL`` does not
reach them. :func:`import_tensorflow` captures descriptor 2 while TensorFlow loads, drops the
warning, and passes everything else on once (the oneDNN notice says results may differ in
round-off, which a user should see once).

:func:`import_tensorflow` also drops TensorFlow's "triggered tf.function retracing" warning for
the compiled loops of robust_keras' attacks (PGD, APGD, inversion). Each attack object compiles its
loop once per input shape, with a signature whose batch size is open; a run that evaluates several
models builds one attack per model, and TensorFlow counts those first traces of different objects
against the one method and calls them excessive retracing. (An attack object cannot retrace for
a new batch size; a new input shape is a new compiled function by construction.) Retracing
warnings of every other function still show.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile

_DROPPED = re.compile(r"All log messages before absl::InitializeLog\(\) is called are written to STDERR")
_TIMESTAMP = re.compile(r"^[IWEF]\d{4} [\d:. ]+\s+\d+ ")  # absl's "I0000 00:00:1796... 21357 " prefix


_ATTACK_FIRST_TRACES = re.compile(
    r"<bound method (PGD\._attack|APGD\._attack|RepresentationInversion\._invert) of <robust_keras\.attacks\."
    r".*triggered tf\.function retracing",
    re.S,
)


class _AttackTraceFilter(logging.Filter):
    """Drops the retracing warning when it counts first traces of attack objects (module doc)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _ATTACK_FIRST_TRACES.search(record.getMessage())


def import_tensorflow() -> None:
    """Imports tensorflow (and keras) once; its native start-up lines are filtered as above."""
    if "tensorflow" in sys.modules:
        return
    logging.getLogger("tensorflow").addFilter(_AttackTraceFilter())
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import keras  # noqa: F401
            import tensorflow  # noqa: F401
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            seen = set()
            for line in capture.read().decode(errors="replace").splitlines(keepends=True):
                key = _TIMESTAMP.sub("", line)
                if _DROPPED.search(line) or key in seen:
                    continue
                seen.add(key)
                sys.stderr.write(line)
            sys.stderr.flush()

"""The run directory's append-only JSON-lines files, the source of truth that tracking/mirror.py mirrors
into MLflow: ``metrics.jsonl`` (one {"run", "step", "name", "value"} row per value),
``mlflow_ledger.jsonl`` (every params / tags / artifact / child / status call) and
``mlflow_pending.jsonl`` (the calls MLflow missed). Appends are flushed and fsynced; a torn last
line (a kill or a full disk mid-write) is skipped by readers and cut off by the next writer.
"""

from __future__ import annotations

import hashlib
import json
import os

from robust_keras.atomic_files import write_text
from robust_keras.faults import die, fail_point

METRICS = "metrics.jsonl"
LEDGER = "mlflow_ledger.jsonl"
PENDING = "mlflow_pending.jsonl"
ID_FILE = "mlflow_run_id"  # the run id in the home store (children: mlflow_run_id.<name>)
INFO = "mlflow.json"  # experiment, run name, tags and the home tracking URI
_mended: set[str] = set()  # files whose torn last line this process has already mended


def read_jsonl(path: str) -> list[dict]:
    """Rows of a JSON-lines file; a torn last line (a kill or a full disk mid-write) is skipped."""
    if not os.path.exists(path):
        return []
    rows = []
    with open(path) as f:
        for line in f:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


def append_jsonl(path: str, rows: list[dict]) -> None:
    """Appends rows durably (flush + fsync); first mends a torn last line left by a killed writer."""
    mend_once(path)
    text = "".join(json.dumps(r) + "\n" for r in rows)
    with open(path, "a") as f:
        if fail_point("mid_metrics_write"):  # fault injection: half a line on disk, then a kill
            f.write(text[: len(text) // 2])
            f.flush()
            die()
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def mend_once(path: str) -> None:
    if path not in _mended:
        _mend(path)
        _mended.add(path)


def _mend(path: str) -> None:
    """Cuts a JSON-lines file back to its last complete line."""
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return
    with open(path, "rb+") as f:
        f.seek(-1, os.SEEK_END)
        if f.read(1) == b"\n":
            return
        f.seek(0)
        data = f.read()
        f.truncate(data.rfind(b"\n") + 1)


def metric_rows(run_dir: str, label: str) -> list[dict]:
    """Rows of ``<run_dir>/metrics.jsonl`` logged by the run labelled ``label`` ("main" or a
    child's name), in order."""
    return [r for r in read_jsonl(os.path.join(run_dir, METRICS)) if r.get("run") == label]


def metric_history(run_dir: str, label: str, name: str) -> dict[int, float]:
    """{step: last logged value} of metric ``name`` of run ``label`` in ``run_dir``."""
    history = {row["step"]: row["value"] for row in metric_rows(run_dir, label) if row["name"] == name}
    return dict(sorted(history.items()))


def entry_items(entry: dict) -> list[tuple[str, str]]:
    """The key/value pairs of a ``params`` or ``tags`` ledger entry."""
    return [(k, v) for k, v in entry.items() if k not in ("run", "kind")]


def write_id(id_file: str, run_id: str) -> None:
    write_text(id_file, run_id)


def drop_pending(run_dir: str, label: str) -> None:
    path = os.path.join(run_dir, PENDING)
    rest = [e for e in read_jsonl(path) if e.get("run") != label]
    write_text(path, "".join(json.dumps(e) + "\n" for e in rest))


def store_id_file(id_file: str, tracking_uri: str, home_uri: str) -> str:
    """Where the run id for ``tracking_uri`` is kept: ``id_file`` for the run directory's home
    store, ``id_file@<hash of the URI>`` for any other store it is mirrored into."""
    if tracking_uri == home_uri:
        return id_file
    return f"{id_file}@{hashlib.sha1(tracking_uri.encode()).hexdigest()[:10]}"


def home_tracking_uri(run_dir: str) -> str | None:
    """The tracking URI ``run_dir`` was started with (its home store), if recorded."""
    path = os.path.join(run_dir, INFO)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f).get("tracking_uri")


def run_id_for(run_dir: str, tracking_uri: str) -> str | None:
    """The id of ``run_dir``'s main run in the store ``tracking_uri`` (None if it has none)."""
    home = home_tracking_uri(run_dir) or tracking_uri
    path = store_id_file(os.path.join(run_dir, ID_FILE), tracking_uri, home)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return f.read().strip()


def read_flags(run_dir: str) -> dict[str, str]:
    """``--name=value`` lines of the run's ``flags.flags`` (the flagfile that reproduces it; booleans
    written --name / --noname come back as "true" / "false")."""
    values = {}
    with open(os.path.join(run_dir, "flags.flags")) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("--"):
                continue
            name, _, value = line[2:].partition("=")
            if not _:
                name, value = (name[2:], "false") if name.startswith("no") else (name, "true")
            values[name] = value
    return values

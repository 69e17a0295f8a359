"""Shared test set-up: quiet TensorFlow, the repo root on sys.path, small helpers."""

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
import urllib.request

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


# The tiers, one directory each; every test carries its directory's marker (pytest -m "not e2e"
# is the inner loop; reliability tests that run whole trainings also mark themselves e2e).
# Without measured durations the slowest tier goes first: pytest-xdist (--dist loadfile
# --no-loadscope-reorder) hands the next file to whichever worker runs low, in collection order,
# so long files started last would leave one worker running alone at the end. (With the suite's
# file times of 2026-12-05, tier order comes within 1% of longest-first.)
TIERS = ("e2e", "reliability", "unit", "meta")
DURATIONS = "robust_keras/file_seconds"  # pytest cache key: seconds per test file, from the last run


def pytest_collection_modifyitems(config, items):
    """Marks each test with its tier and orders files longest first: by the seconds the last run
    of each file took (pytest's cache), else by tier; tests keep their order within a file."""
    seconds = config.cache.get(DURATIONS, {}) if getattr(config, "cache", None) else {}
    rank = {tier: i for i, tier in enumerate(TIERS)}
    for item in items:
        item.add_marker(getattr(pytest.mark, _tier(item)))
    items.sort(key=lambda item: (-seconds.get(_file(item), 0.0), rank[_tier(item)]))


def _tier(item) -> str:
    return item.path.parent.name if item.path.parent.name in TIERS else "unit"


def _file(item) -> str:
    return item.nodeid.split("::")[0]


_SECONDS: dict[str, float] = {}
_LEFT: dict[str, int] = {}  # tests of each file not finished yet (for the per-file progress lines)
_STARTED = time.time()


def _count(nodeids) -> None:
    for nodeid in nodeids:
        name = nodeid.split("::")[0]
        _LEFT[name] = _LEFT.get(name, 0) + 1


def pytest_collection_finish(session):
    if not hasattr(session.config, "workerinput"):  # without xdist the tests are collected here
        _count(item.nodeid for item in session.items)


def pytest_xdist_node_collection_finished(node, ids):
    if not _LEFT:  # every worker collects the same tests: count them once
        _count(ids)


def pytest_runtest_logreport(report):
    """Adds each phase's duration to its file (in the controlling process under xdist), and prints
    a line when a file's last test is done: which file, how long it took, files left, elapsed."""
    name = report.nodeid.split("::")[0]
    _SECONDS[name] = _SECONDS.get(name, 0.0) + report.duration
    if report.when != "teardown" or name not in _LEFT:
        return
    _LEFT[name] -= 1
    if _LEFT[name] == 0:
        left = sum(1 for n in _LEFT.values() if n > 0)
        elapsed = time.time() - _STARTED
        for config in _CONFIG:
            reporter = config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(
                    f"[tests] {name} done ({_SECONDS[name]:.0f} s); {left} files left, {elapsed:.0f} s elapsed"
                )


_CONFIG: list = []  # the controlling process's config (workers print nothing)


def pytest_configure(config):
    if not hasattr(config, "workerinput"):
        _CONFIG.append(config)


def pytest_sessionfinish(session):
    """Stores this run's seconds per file for the next run's order (files not run keep theirs)."""
    cache = getattr(session.config, "cache", None)
    if cache is None or hasattr(session.config, "workerinput") or not _SECONDS:
        return
    cache.set(DURATIONS, {**cache.get(DURATIONS, {}), **{k: round(v, 1) for k, v in _SECONDS.items()}})


def run_main(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """Runs ``python -m robust_keras.main ARGS`` from the repo root as a user would."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": ROOT}
    return subprocess.run(
        [sys.executable, "-m", "robust_keras.main", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""


@pytest.fixture
def sqlite_uri(tmp_path):
    return f"sqlite:///{tmp_path}/mlflow.db"


def read_json(path):
    with open(path) as f:
        return json.load(f)


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def run_experiment(flagfile: str, out_dir, *extra: str, unread=()) -> subprocess.CompletedProcess:
    """Runs ``flags/<flagfile>`` (plus overrides) into ``out_dir`` with its own SQLite store; must
    succeed, and read every flag it sets except those named in ``unread`` (a shipped flagfile sets
    no flag its experiment ignores)."""
    proc = run_main(
        f"--flagfile=flags/{flagfile}",
        *extra,
        f"--output_dir={out_dir}",
        f"--mlflow_tracking_uri=sqlite:///{out_dir}/m.db",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    warning = [line for line in proc.stdout.splitlines() if " never read " in line]
    named = sorted(w[2:] for w in warning[0].split(" never read ")[1].split(":")[0].split(", ")) if warning else []
    assert named == sorted(unread), warning
    check_figures(out_dir)
    return proc


def check_figures(out_dir) -> list[str]:
    """Every PNG a run wrote into a ``plots`` folder under ``out_dir`` is a readable image of at least 300 x 200 pixels
    that is not (nearly) blank: under 97% of its pixels share the background colour and it has
    more than 20 colours. Returns the paths checked."""
    from pathlib import Path

    import numpy as np
    from PIL import Image

    found = Path(out_dir).rglob("plots/*.png")
    paths = sorted(str(p) for p in found if "mlartifacts" not in p.parts)  # not MLflow's copies
    for path in paths:
        with Image.open(path) as im:
            assert im.width >= 300 and im.height >= 200, (path, im.size)
            pixels = np.asarray(im.convert("RGB")).reshape(-1, 3)
        colours, counts = np.unique(pixels, axis=0, return_counts=True)
        assert counts.max() / len(pixels) < 0.97 and len(colours) > 20, (path, counts.max() / len(pixels))
    return paths


def run_main_with_mock_tfds(num_examples: int, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """``run_main`` with tfds replaced by ``tfds.testing.mock_data(num_examples)`` (random images,
    the real feature specs) inside the subprocess: the CIFAR-10 / MNIST path without a download."""
    code = (
        "import sys, tensorflow_datasets as tfds\n"
        "from robust_keras.main import run_main\n"
        f"sys.argv = ['robust_keras.main', *{list(args)!r}]\n"
        f"with tfds.testing.mock_data(num_examples={num_examples}):\n"
        "    run_main()\n"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": ROOT}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_workers(args, log_dir, failpoints=("", "")) -> list[subprocess.Popen]:
    """Starts ``python -m robust_keras.main ARGS --strategy=multi_worker`` as the two workers of a
    TF_CONFIG cluster on free 127.0.0.1 ports; worker i's output goes to ``proc.log_path`` in
    ``log_dir``, with ``failpoints[i]`` as its ROBUST_KERAS_FAILPOINT."""
    cluster = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    procs = []
    for index, failpoint in enumerate(failpoints):
        tf_config = {"cluster": {"worker": cluster}, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": ROOT, "TF_CONFIG": json.dumps(tf_config)}
        env.pop("ROBUST_KERAS_FAILPOINT", None)
        if failpoint:
            env["ROBUST_KERAS_FAILPOINT"] = failpoint
        path = os.path.join(str(log_dir), f"worker{index}.{time.monotonic_ns()}.log")
        with open(path, "w") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "robust_keras.main", *args, "--strategy=multi_worker"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        proc.log_path = path
        procs.append(proc)
    return procs


def finish_workers(procs, timeout: int = 300) -> list[str]:
    """Waits for the workers; asserts both exited 0; returns their logs."""
    codes = [p.wait(timeout=timeout) for p in procs]
    logs = [pathlib.Path(p.log_path).read_text() for p in procs]
    assert codes == [0, 0], [log[-3000:] for log in logs]
    return logs


class MlflowServer:
    """A real ``mlflow server`` on 127.0.0.1 (SQLite store, served artifacts under ``root``) that
    can be killed and started again on the same port and store."""

    def __init__(self, root):
        self.port, self.root = free_port(), root
        self.uri = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self) -> None:
        mlflow = os.path.join(os.path.dirname(sys.executable), "mlflow")
        cmd = [mlflow, "server", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"]
        cmd += [
            "--backend-store-uri",
            f"sqlite:///{self.root}/server.db",
            "--artifacts-destination",
            f"{self.root}/art",
        ]
        self.proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2):
                    return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError("mlflow server did not start within 90 s")

    def kill(self) -> None:
        """SIGKILL the server and its workers (what a crash or a lost host looks like)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def mlflow_server(tmp_path):
    server = MlflowServer(tmp_path)
    server.start()
    yield server
    server.kill()


def parse_project_flags(*args: str) -> dict:
    """The project's flag values after parsing ``args`` (e.g. a ``--flagfile=``) on a private
    FlagValues, as ``main`` would see them; the global FLAGS are left alone."""
    from absl import flags

    from robust_keras.main import project_flags

    parsed = flags.FlagValues()
    for flag in project_flags():
        parsed[flag.name] = flag
    try:
        parsed(["prog", *args])
        return {name: parsed[name].value for name in parsed}
    finally:
        parsed.unparse_flags()

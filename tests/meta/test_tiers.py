"""The test tiers mean what they say: a unit test runs in the pytest process -- it starts no
process, runs no CLI, opens no server. Anything that does is e2e (a user's command, a fresh
process for TensorFlow set-up) or reliability (kills, races between processes, outages)."""

import ast
import pathlib

TESTS = pathlib.Path(__file__).resolve().parents[1]
# modules and names whose use starts a process
PROCESS_MODULES = {"subprocess", "multiprocessing", "concurrent.futures"}
OS_PROCESS_CALLS = {"fork", "execv", "spawn", "Popen", "executable"}  # os.fork, sys.executable, ...


def _conftest_process_helpers() -> set[str]:
    """Names of conftest's functions, classes and fixtures that start a process, directly or
    through another of them (run_main, start_workers, mlflow_server, ...)."""
    tree = ast.parse((TESTS / "conftest.py").read_text())
    bodies = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    starters: set[str] = set()
    while True:
        known = PROCESS_MODULES | OS_PROCESS_CALLS | starters
        found = {
            name
            for name, node in bodies.items()
            if any(isinstance(n, ast.Name) and n.id in known for n in ast.walk(node))
            or any(isinstance(n, ast.Attribute) and n.attr in OS_PROCESS_CALLS for n in ast.walk(node))
        }
        if found <= starters:
            return starters
        starters |= found


PROCESS_NAMES = OS_PROCESS_CALLS | _conftest_process_helpers()


def _process_uses(path: pathlib.Path) -> list[str]:
    """'line: what' for every import of a process module and every use of a process name."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [f"{node.lineno}: import {a.name}" for a in node.names if a.name in PROCESS_MODULES]
        elif isinstance(node, ast.ImportFrom):
            if node.module in PROCESS_MODULES:
                found.append(f"{node.lineno}: from {node.module}")
            found += [f"{node.lineno}: {a.name}" for a in node.names if a.name in PROCESS_NAMES]
        elif isinstance(node, ast.Attribute) and node.attr in PROCESS_NAMES:
            found.append(f"{node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Name) and node.id in PROCESS_NAMES:
            found.append(f"{node.lineno}: {node.id}")
        elif isinstance(node, ast.arg) and node.arg in PROCESS_NAMES:  # a fixture that starts a server
            found.append(f"{node.lineno}: fixture {node.arg}")
    return found


def test_unit_tests_and_the_helpers_they_import_start_no_process():
    helpers = [f for f in sorted(TESTS.glob("*.py")) if f.name not in ("conftest.py", "bazel_pytest.py")]
    files = sorted((TESTS / "unit").glob("*.py")) + helpers
    offenders = {str(f.relative_to(TESTS)): uses for f in files if (uses := _process_uses(f))}
    assert not offenders, f"move these tests to tests/e2e or tests/reliability: {offenders}"


def test_the_rule_sees_each_way_of_starting_a_process(tmp_path):
    cases = {
        "import subprocess\n": "import subprocess",
        "from multiprocessing import Pool\n": "from multiprocessing",
        "import sys\nsys.executable\n": ".executable",
        "from conftest import run_main\n": "run_main",
        "def test_x(mlflow_server):\n    pass\n": "fixture mlflow_server",
        "import os\nos.fork()\n": ".fork",
        "from conftest import start_workers\n": "start_workers",
        "from conftest import run_experiment\n": "run_experiment",
    }
    for code, expected in cases.items():
        path = tmp_path / "case.py"
        path.write_text(code)
        assert any(expected in use for use in _process_uses(path)), code
    (tmp_path / "case.py").write_text("import os\nimport numpy as np\nos.path.join('a', 'b')\n")
    assert _process_uses(tmp_path / "case.py") == []

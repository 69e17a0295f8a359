"""The import rule of docs/design.md: every robust_keras import points down the layers.

entry points (main, reproduce, pathway_table)
  -> experiments/ (one module per experiment; never each other)
  -> workflows/ (steps experiments share; each only below itself in WORKFLOW_ORDER; they take
     typed settings, never the Config)
  -> flag definitions and the Config snapshot (flags/, config)
  -> library (data, models, attacks, training, ntk, analysis and the run services beside them)
"""

import ast
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "robust_keras"

ENTRY = {"main", "cli_flags", "cli_tools", "reproduce", "pathway_table"}
FLAGS = {"flags", "config"}
# lowest first: a workflow imports only workflows listed before it
WORKFLOW_ORDER = (
    "attack_builders",
    "recipes",
    "exports",
    "clean_data",
    "clean_classifier",
    "source_models",
    "pathway_labels",
    "grid",
    "d_det_training",
    "d_det",
    "robust_datasets",
)
RANK = {"library": 0, "flags": 1, "workflows": 2, "experiments": 3, "entry": 4}


def _layer(module: str) -> str:
    """The layer of a dotted module name below robust_keras ("workflows.d_det" -> "workflows")."""
    top = module.split(".")[0]
    if top in ENTRY:
        return "entry"
    if top in FLAGS:
        return "flags"
    if top in ("workflows", "experiments"):
        return top
    return "library"


def _imports(path: pathlib.Path) -> list[tuple[int, str]]:
    """(line, module below robust_keras) of every robust_keras import in the file, at any depth;
    ``from robust_keras.x import y`` counts as ``x.y`` (y may be a module)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.startswith("robust_keras.")]
            found += [(node.lineno, name[len("robust_keras.") :]) for name in names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "robust_keras":
            base = node.module[len("robust_keras") :].lstrip(".")
            found += [(node.lineno, f"{base}.{a.name}".lstrip(".")) for a in node.names]
    return found


def _violations() -> list[str]:
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        here = ".".join(path.relative_to(PACKAGE).with_suffix("").parts).removesuffix(".__init__")
        layer = _layer(here)
        for line, target in _imports(path):
            where = f"robust_keras/{path.relative_to(PACKAGE)}:{line} imports {target}"
            other = _layer(target)
            if here == "experiments" and other == "experiments":  # the registry lists every experiment
                continue
            if layer == "workflows" and target.split(".")[0] == "config":
                bad.append(f"{where} (workflows take typed settings from robust_keras/settings.py, not the Config)")
            elif RANK[other] > RANK[layer]:
                bad.append(f"{where} (upward: {layer} -> {other})")
            elif layer == other == "experiments" and target.split(".")[1] != here.split(".")[1]:
                bad.append(f"{where} (sideways: experiments never import each other)")
            elif layer == other == "workflows" and here != "workflows":
                mine, theirs = here.split(".")[1], target.split(".")[1]
                if mine != theirs and (
                    mine not in WORKFLOW_ORDER or WORKFLOW_ORDER.index(theirs) >= WORKFLOW_ORDER.index(mine)
                ):
                    bad.append(f"{where} (sideways or upward within workflows: see WORKFLOW_ORDER)")
    return bad


def test_every_import_points_down_the_layers():
    assert _violations() == []


def test_every_workflow_module_has_a_place_in_the_order():
    modules = {p.stem for p in (PACKAGE / "workflows").glob("*.py")} - {"__init__"}
    assert modules == set(WORKFLOW_ORDER)


def test_the_rule_catches_an_upward_and_a_sideways_import(tmp_path, monkeypatch):
    """The checker itself: a library module importing a workflow, one experiment importing another,
    a workflow importing one above it and a workflow importing the Config."""
    fake = tmp_path / "robust_keras"
    for rel, text in {
        "data/leak.py": "from robust_keras.workflows import recipes\n",
        "experiments/a.py": "from robust_keras.experiments import b\n",
        "experiments/b.py": "def f():\n    from robust_keras.experiments.a import x\n",
        "workflows/recipes.py": "from robust_keras.workflows import d_det\n",
        "workflows/d_det.py": "from robust_keras.workflows import recipes\n",
        "workflows/grid.py": "from robust_keras.config import Config\n",
    }.items():
        (fake / rel).parent.mkdir(parents=True, exist_ok=True)
        (fake / rel).write_text(text)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    found = _violations()
    assert len(found) == 5, found
    assert any("data/leak.py" in v and "upward" in v for v in found)
    assert sum("sideways: experiments" in v for v in found) == 2
    assert any("workflows/recipes.py" in v for v in found) and not any("workflows/d_det.py" in v for v in found)
    assert any("workflows/grid.py" in v and "typed settings" in v for v in found)


def test_only_the_entry_points_read_flags():
    """absl's FLAGS is read by main, cli_flags and cli_tools only (docs/design.md); everything
    below takes the Config or typed settings."""
    readers = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if any(isinstance(n, ast.Name) and n.id == "FLAGS" for n in ast.walk(ast.parse(path.read_text())))
    )
    assert readers == ["cli_flags.py", "cli_tools.py", "main.py"], readers

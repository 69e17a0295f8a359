"""The SavedModel check judged by effect: hostile models are loaded and called through the project's
loader in a child process (savedmodel_oracle.py) under a watched directory tree. A model the check
accepts must leave no file anywhere in that tree and must not bring a secret checkpoint's values
back in its logits. Controls: the same models loaded as trusted do write, so the oracle sees it."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from savedmodel_hostile import (
    MUTATIONS,
    SECRET,
    hostile_function,
    mutate,
    run_oracle,
    save_base,
    secret_checkpoint,
    tf1_model,
)

from robust_keras import savedmodel_checks
from robust_keras.errors import ModelError


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A clean base model, the watched tree, the hostile function (writes into the tree) and a
    secret checkpoint outside every model."""
    root = tmp_path_factory.mktemp("effects")
    watched = root / "watched"
    watched.mkdir()
    secret = secret_checkpoint(root / "secret")
    return {
        "root": root,
        "watched": watched,
        "base": save_base(root / "base"),
        "hostile": hostile_function(str(watched / "hostile_written.txt")),
        "secret": secret,
    }


def _accepted(directory) -> bool:
    try:
        savedmodel_checks.check_safe(str(directory), trusted=False)
        return True
    except ModelError:
        return False


def _assert_no_effect(results) -> None:
    for result in results:
        if not result["trusted"]:
            assert result["written"] == [], result
            assert SECRET not in result["values"], result["model"]


def _control_wrote(results) -> bool:
    return any(r["trusted"] and r["status"] == "called" and r["written"] for r in results)


def test_each_hostile_mutation_and_tf1_model_is_refused_and_writes_nothing(world, tmp_path):
    models = {name: mutate(world["base"], tmp_path / f"m{i}", [name], world["hostile"], world["secret"])
              for i, name in enumerate(MUTATIONS)}  # fmt: skip
    hostile = {name for name, (_, adds) in MUTATIONS.items() if adds} | {"restore from a constant path",
                                                                        "primitive op named as a function"}  # fmt: skip
    assert {name for name in hostile if _accepted(models[name])} == set()
    tf1 = tf1_model(tmp_path / "tf1", collection_writes=str(world["watched"] / "tf1_written.txt"))
    results = run_oracle([*models.values(), tf1], world["watched"],
                         trusted=[models["call from serve by PartitionedCall"], tf1])  # fmt: skip
    _assert_no_effect(results)
    untrusted = {r["model"]: r for r in results if not r["trusted"]}
    assert untrusted[models["serve renamed everywhere"]]["status"] == "called"  # benign: accepted and works
    assert untrusted[tf1]["status"] == "refused" and "TF1" in untrusted[tf1]["error"]
    # controls: trusted, the call wired into serve writes, and so does the TF1 loader's collection
    controls = [r for r in results if r["trusted"]]
    assert [r["written"] for r in controls] == [["./hostile_written.txt"], ["./tf1_written.txt"]], controls
    _clean(world["watched"])


def test_property_any_mix_of_mutations_the_check_accepts_has_no_effect(world, tmp_path):
    made: list[tuple[str, bool, list[str]]] = []

    @settings(max_examples=25, derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
    @given(st.lists(st.sampled_from(sorted(MUTATIONS)), min_size=1, max_size=3, unique=True))
    def mutated(names):
        directory = mutate(world["base"], tmp_path / f"p{len(made)}", names, world["hostile"], world["secret"])
        made.append((directory, _accepted(directory), names))

    mutated()
    accepted = [d for d, ok, _ in made if ok]
    assert 0 < len(accepted) < len(made)  # the mixes include benign and hostile ones
    # control: the refused mixes that call the writer from serve, loaded as trusted, write it
    calling = [d for d, ok, names in made if not ok and any(n.startswith("call from serve") for n in names)]
    results = run_oracle(accepted, world["watched"], trusted=calling)
    _assert_no_effect(results)
    assert _control_wrote(results)
    _clean(world["watched"])


def _clean(watched) -> None:
    for name in ("hostile_written.txt", "tf1_written.txt"):
        (watched / name).unlink(missing_ok=True)

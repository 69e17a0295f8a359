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
    files_under,
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


def _assert_no_effect(results, watched, before) -> None:
    assert files_under(watched) - before == set(), [r["model"] for r in results]
    for result in results:
        assert SECRET not in result["values"], result["model"]


def test_every_single_mutation_that_wires_in_a_write_is_refused_and_writes_nothing(world, tmp_path):
    models = {name: mutate(world["base"], tmp_path / f"m{i}", [name], world["hostile"], world["secret"])
              for i, name in enumerate(MUTATIONS)}  # fmt: skip
    hostile = {name for name, (_, adds) in MUTATIONS.items() if adds} | {"restore from a constant path",
                                                                        "primitive op named as a function"}  # fmt: skip
    assert {name for name in hostile if _accepted(models[name])} == set()
    before = files_under(world["watched"])
    results = run_oracle(models.values(), world["watched"])
    _assert_no_effect(results, world["watched"], before)
    by_model = {r["model"]: r for r in results}
    assert by_model[models["serve renamed everywhere"]]["status"] == "called"  # benign: accepted and works
    # control: trusted, the wired-in calls do write -- the oracle sees an effect when there is one
    results = run_oracle([models["call from serve by PartitionedCall"]], world["watched"], trusted=True)
    assert results[0]["status"] == "called" and "hostile_written.txt" in files_under(world["watched"])
    (world["watched"] / "hostile_written.txt").unlink()


def test_property_any_mix_of_mutations_the_check_accepts_has_no_effect(world, tmp_path):
    made: list[tuple[str, bool]] = []

    @settings(max_examples=25, derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
    @given(st.lists(st.sampled_from(sorted(MUTATIONS)), min_size=1, max_size=3, unique=True))
    def mutated(names):
        directory = mutate(world["base"], tmp_path / f"p{len(made)}", names, world["hostile"], world["secret"])
        made.append((directory, _accepted(directory)))

    mutated()
    accepted = [d for d, ok in made if ok]
    assert 0 < len(accepted) < len(made)  # the mixes include benign and hostile ones
    before = files_under(world["watched"])
    _assert_no_effect(run_oracle(accepted, world["watched"]), world["watched"], before)
    # control: loading every mix as trusted writes the file at least once
    run_oracle([d for d, ok in made if not ok], world["watched"], trusted=True)
    assert "hostile_written.txt" in files_under(world["watched"])
    (world["watched"] / "hostile_written.txt").unlink()


def test_tf1_model_whose_collection_writes_at_load_is_refused(world, tmp_path):
    target = world["watched"] / "tf1_written.txt"
    model = tf1_model(tmp_path / "tf1", collection_writes=str(target))
    before = files_under(world["watched"])
    results = run_oracle([model], world["watched"])
    assert results[0]["status"] == "refused" and "TF1" in results[0]["error"]
    _assert_no_effect(results, world["watched"], before)
    run_oracle([model], world["watched"], trusted=True)  # control: the TF1 loader runs the collection
    assert target.exists()
    target.unlink()

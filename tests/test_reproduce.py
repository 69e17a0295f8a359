"""The claims runner's parts that need no experiment: every claim's flagfile parses into the
experiment its check reads, and the checks decide from run outputs written by hand (the runs
themselves are CI's `reproduce --quick`)."""

import json
import os

import pytest
from conftest import ROOT, parse_project_flags

from robust_keras.reproduce import claims

EXPERIMENT_OF_CHECK = {
    "_toy_switch": "toy_linear",
    "_feature_averaging": "feature_averaging",
    "_ntk_top_features": "ntk_features",
    "_d_det_robust_first": "d_det",
    "_kernel_rotation": "kernel_dynamics",
    "_pathways_recipe": "pathways",
    "_d_r_robust": "robust_datasets",
    "_transfer_split": "transfer_split",
    "_ntk_attack_transfer": "ntk_transfer",
}


@pytest.mark.parametrize("claim", claims.CLAIMS, ids=lambda c: c.name)
def test_claim_flagfiles_parse_into_the_experiment_their_check_reads(claim):
    path = os.path.join(ROOT, "flags", "reproduce", claim.flagfile)
    with open(path) as f:
        text = f.read()
    assert text.startswith(f"# .venv/bin/python -m robust_keras.reproduce --only={claim.name}")
    values = parse_project_flags(f"--flagfile={path}")
    assert values["experiment"] == EXPERIMENT_OF_CHECK[claim.check.__name__]
    assert "--seed=" not in text  # the runner passes each of the claim's seeds


def _metrics(run_dir, rows):
    os.makedirs(run_dir, exist_ok=True)
    with open(os.path.join(run_dir, "metrics.jsonl"), "w") as f:
        f.writelines(json.dumps({"run": r, "step": s, "name": n, "value": v}) + "\n" for r, s, n, v in rows)
    return str(run_dir)


def test_kernel_rotation_holds_only_if_every_seed_rotates_more_under_adversarial_training(tmp_path):
    more = _metrics(tmp_path / "a", [("standard", 8, "ntk/angle", 0.30), ("adversarial", 8, "ntk/angle", 0.35)])
    less = _metrics(tmp_path / "b", [("standard", 8, "ntk/angle", 0.30), ("adversarial", 8, "ntk/angle", 0.25)])
    assert claims._kernel_rotation([more]).holds
    verdict = claims._kernel_rotation([more, less])  # one seed against it: the claim does not hold
    assert not verdict.holds and "seed 1: final angle adversarial 0.250 vs standard 0.300" in verdict.measured


def test_toy_switch_reads_the_regimes_against_k_t(tmp_path):
    def summary(accuracy_above):
        run = tmp_path / f"toy{accuracy_above}"
        run.mkdir()
        sweep = [
            {"k": 1.5, "population_accuracy": 0.801, "step1_accuracy": 0.80},
            {"k": 40.0, "population_accuracy": accuracy_above, "step1_accuracy": 0.80},
        ]
        (run / "summary.json").write_text(json.dumps({"p": 0.2, "k_t": 4.74, "sweep": sweep}))
        return str(run)

    assert claims._toy_switch([summary(0.995)]).holds  # 1 - p/k at k = 40
    assert not claims._toy_switch([summary(0.80)]).holds  # stuck on the robust coordinate above k_t

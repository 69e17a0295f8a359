"""The claims runner's parts that need no experiment: every claim's flagfile parses into the
experiment its check reads, and the checks decide from run outputs written by hand (the runs
themselves are CI's `reproduce --quick`)."""

import json
import os

import pytest
from conftest import ROOT, parse_project_flags

from robust_keras.reproduce import checks_robust_before as rb
from robust_keras.reproduce import claims

EXPERIMENT_OF_CHECK = {
    "toy_switch": "toy_linear",
    "feature_averaging": "feature_averaging",
    "ntk_top_features": "ntk_features",
    "features_consistent": "ntk_features",
    "d_det_robust_first": "d_det",
    "pathway2_end_state": "d_det",
    "kernel_rotation": "kernel_dynamics",
    "pathways_recipe": "pathways",
    "d_r_robust": "robust_datasets",
    "transfer_split": "transfer_split",
    "ntk_attack_transfer": "ntk_transfer",
    "clean_pathways": "clean_pathways",
    "cross_dataset": "cross_dataset",
    "performance_correlation": "pathways",
    "fa_real_finer_labels": "feature_averaging_real",
}


@pytest.mark.parametrize("claim", claims.CLAIMS, ids=lambda c: c.name)
def test_claim_flagfiles_parse_into_the_experiment_their_check_reads(claim):
    path = os.path.join(ROOT, "flags", "reproduce", claim.flagfile)
    with open(path) as f:
        text = f.read()
    sharing = [c.name for c in claims.CLAIMS if c.flagfile == claim.flagfile]  # claims reading the same runs
    assert text.startswith(f"# .venv/bin/python -m robust_keras.reproduce --only={','.join(sharing)}\n")
    values = parse_project_flags(f"--flagfile={path}")
    assert values["experiment"] == EXPERIMENT_OF_CHECK[claim.check.__name__]
    assert "--seed=" not in text  # the runner passes each of the claim's seeds


def _metrics(run_dir, rows):
    os.makedirs(run_dir, exist_ok=True)
    with open(os.path.join(run_dir, "metrics.jsonl"), "w") as f:
        f.writelines(json.dumps({"run": r, "step": s, "name": n, "value": v}) + "\n" for r, s, n, v in rows)
    return str(run_dir)


def test_clean_pathways_needs_higher_transfer_from_the_regularised_model_in_every_seed(tmp_path):
    def run(name, transfer_1, transfer_2, success=0.9):
        path = tmp_path / name
        path.mkdir()
        summary = {f"m1_{r}/adv/attack_success": success for r in "12"}
        summary.update({f"m1_1/adv/transfer_m2_{t}": transfer_1 for t in "12"})
        summary.update({f"m1_2/adv/transfer_m2_{t}": transfer_2 for t in "12"})
        (path / "summary.json").write_text(json.dumps(summary))
        return str(path)

    assert rb.clean_pathways([run("a", 0.6, 0.3)]).holds
    assert not rb.clean_pathways([run("b", 0.6, 0.3), run("c", 0.4, 0.38)]).holds  # too close in seed 1
    assert not rb.clean_pathways([run("d", 0.6, 0.3, success=0.4)]).holds  # the attack itself fails
    mixed = run("e", 0.6, 0.3)  # higher on average, but not to M2(2): each reference is its own test
    summary = json.loads((tmp_path / "e" / "summary.json").read_text())
    summary.update({"m1_1/adv/transfer_m2_1": 0.9, "m1_1/adv/transfer_m2_2": 0.3, "m1_2/adv/transfer_m2_2": 0.35})
    (tmp_path / "e" / "summary.json").write_text(json.dumps(summary))
    verdict = rb.clean_pathways([mixed])
    assert not verdict.holds and "transfer to M2(2) from M1(1) 0.30 vs from M1(2) 0.35" in verdict.measured


def test_d_det_claim_needs_the_robust_features_first_in_every_seed(tmp_path):
    def run(name, shift, clean):
        rows = [("main", e, "shift/accuracy", v) for e, v in enumerate(shift, 1)]
        rows += [("main", e, "clean/accuracy", v) for e, v in enumerate(clean, 1)]
        rows += [("main", e, "train/accuracy", 0.5 + 0.1 * e) for e in range(1, len(shift) + 1)]
        return _metrics(tmp_path / name, rows)

    robust_first = run("a", [0.40, 0.60, 0.55], [0.10, 0.15, 0.20])
    assert rb.d_det_robust_first([robust_first]).holds
    clean_first = run("b", [0.10, 0.40, 0.50], [0.20, 0.20, 0.20])  # non-robust features before robust ones
    verdict = rb.d_det_robust_first([robust_first, clean_first])
    assert not verdict.holds and "seed 1: shift rises epoch 2, clean epoch 1 (robust first no)" in verdict.measured


def test_across_seeds_gives_mean_and_spread_of_per_seed_numbers_and_the_table_shows_them():
    from robust_keras.reproduce import _table
    from robust_keras.reproduce.verdict import across_seeds

    metrics = {"seed0/gain": 0.1, "seed1/gain": 0.3, "seed2/gain": 0.2, "seed0/only_once": 1.0, "k_t": 4.74}
    spread = across_seeds(metrics)
    assert spread == {"gain": {"mean": pytest.approx(0.2), "min": 0.1, "max": 0.3, "seeds": 3}}
    record = {"claim": "c", "statement": "s", "paper": "p", "quote": "q", "paper_value": "v", "measured": "m",
              "departures": "d", "holds": False, "across_seeds": spread}  # fmt: skip
    row = _table([record]).splitlines()[-1]
    assert row == '| `c`: s | p | "q" | v | m | gain 0.2 (0.1-0.3) | d | **does not hold** |'
    assert "| (one run) |" in _table([{**record, "across_seeds": {}}])

"""toy_linear end to end on its tiny flagfile: both regimes of RB Sec. 5."""

import pytest
from conftest import read_json, run_experiment


def test_toy_linear_experiment_shows_both_regimes(tmp_path):
    # --source_models belongs to transfer: the run warns once that it had no effect
    proc = run_experiment("toy_linear_tiny.flags", tmp_path, "--source_models=a", unread=["source_models"])
    summary = read_json(tmp_path / "summary.json")
    p, k_t = 0.2, summary["k_t"]
    assert f"k_t = {k_t:.3f}" in proc.stdout
    for row in summary["sweep"]:
        assert row["train_accuracy"] == 1.0 and row["gd_vs_interpolant"] < 1e-6
        assert row["step1_accuracy"] == pytest.approx(1 - p, abs=0.01)  # Theorem 1: robust first
        if row["k"] < k_t / 2:
            assert row["population_accuracy"] == pytest.approx(1 - p, abs=0.01) and row["nonrobust_fraction"] == 0
        elif row["k"] > 4 * k_t:
            assert row["population_accuracy"] == pytest.approx(1 - p / row["k"], abs=0.005)
            assert row["nonrobust_fraction"] == 1
    assert {r["k"] for r in summary["sweep"]} == {1.5, 2.0, 20.0, 40.0}
    for png in ("toy_accuracy_vs_k.png", "toy_weights_over_steps.png"):
        assert (tmp_path / "plots" / png).stat().st_size > 10_000

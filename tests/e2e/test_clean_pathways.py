"""Clean-data pathways (Fig. 4) end to end: four models, per-epoch attack success and transfer
rates that agree with an independent re-computation from the exported SavedModels."""

import numpy as np
from conftest import read_json, run_experiment
from mlflow.tracking import MlflowClient

from robust_keras.attacks import PGD
from robust_keras.data import sources, transforms
from robust_keras.export import load_model

EPOCHS, ATTACKED, STEPS = 3, 200, 10  # smaller than the flagfile, to keep the suite fast


def test_clean_pathways_logs_attack_and_transfer_per_epoch(tmp_path):
    proc = run_experiment(
        "clean_pathways_mnist_tiny.flags",
        tmp_path,
        f"--epochs={EPOCHS}",
        f"--clean_attack_examples={ATTACKED}",
        f"--attack_steps={STEPS}",
        "--max_train_examples=1500",
    )
    assert "[stage 1/2] M2 reference models finished in" in proc.stdout and "ETA of the rest" in proc.stdout
    summary = read_json(tmp_path / "summary.json")
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/m.db")
    parent = (tmp_path / "mlflow_run_id").read_text().strip()
    children = {
        c.data.tags["mlflow.runName"]: c
        for c in client.search_runs(
            [client.get_run(parent).info.experiment_id], f"tags.mlflow.parentRunId = '{parent}'"
        )
    }
    assert set(children) == {"m1_1", "m1_2", "m2_1", "m2_2"}
    parent_metrics = client.get_run(parent).data.metrics  # the summary on the parent run, to compare runs by
    assert parent_metrics["m1_2/adv/transfer_m2_1"] == summary["m1_2/adv/transfer_m2_1"]
    assert children["m1_1"].data.params["augment"] == "True" and children["m1_2"].data.params["weight_decay"] == "0.0"
    for m1 in ("m1_1", "m1_2"):
        for metric in ("adv/attack_success", "adv/transfer_m2_1", "adv/transfer_m2_2"):
            history = client.get_metric_history(children[m1].info.run_id, metric)
            assert [h.step for h in history] == list(range(1, EPOCHS + 1)) and all(0 <= h.value <= 1 for h in history)
        assert summary[f"{m1}/adv/attack_success"] > 0.15  # the targeted attack works on M1 (chance: 0.1)

    # Independent re-computation of the last epoch of M1(2): same attack, same seeds, exported models.
    _, test = sources.load_dataset("mnist_sample", test_per_class=100)
    x = test.images[:ATTACKED].astype(np.float32) / 255.0
    t = transforms.shifted_labels(test.labels[:ATTACKED], 10)
    m1 = load_model(str(tmp_path / "models" / "m1_2"), (28, 28, 1))
    attack = PGD(m1, norm="l2", eps=3.0, step_size=0.3, steps=STEPS, targeted=True)
    x_adv = np.asarray(attack(x, t, (0, 0))[0])
    for ref in ("m2_1", "m2_2"):
        model = load_model(str(tmp_path / "models" / ref), (28, 28, 1))
        rate = float(np.mean(np.argmax(np.asarray(model(x_adv)), -1) == t))
        assert abs(rate - summary[f"m1_2/adv/transfer_{ref}"]) <= 3 / ATTACKED
    assert (tmp_path / "plots" / "clean_pathways.png").stat().st_size > 20_000

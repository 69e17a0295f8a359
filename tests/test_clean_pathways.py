"""Clean-data pathways (Fig. 4) end to end: four models, per-epoch attack success and transfer
rates that agree with an independent re-computation from the exported SavedModels."""

import numpy as np
from conftest import read_json, run_experiment
from mlflow.tracking import MlflowClient

from robust_keras.attacks import PGD
from robust_keras.data import sources, transforms
from robust_keras.export import load_model


def test_clean_pathways_logs_attack_and_transfer_per_epoch(tmp_path):
    run_experiment("clean_pathways_mnist_tiny.flags", tmp_path)
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
    assert children["m1_1"].data.params["augment"] == "True" and children["m1_2"].data.params["weight_decay"] == "0.0"
    for m1 in ("m1_1", "m1_2"):
        for metric in ("adv/attack_success", "adv/transfer_m2_1", "adv/transfer_m2_2"):
            history = client.get_metric_history(children[m1].info.run_id, metric)
            assert [h.step for h in history] == [1, 2, 3, 4, 5] and all(0 <= h.value <= 1 for h in history)
        assert summary[f"{m1}/adv/attack_success"] > 0.2  # the targeted attack works on M1

    # Independent re-computation of the last epoch of M1(2): same attack, same seeds, exported models.
    _, test = sources.load_dataset("mnist_sample", test_per_class=100)
    x = test.images[:300].astype(np.float32) / 255.0
    t = transforms.shifted_labels(test.labels[:300], 10)
    m1 = load_model(str(tmp_path / "models" / "m1_2"), (28, 28, 1))
    attack = PGD(m1, norm="l2", eps=3.0, step_size=0.3, steps=20, targeted=True)
    x_adv = np.asarray(attack(x, t, (0, 0))[0])
    for ref in ("m2_1", "m2_2"):
        model = load_model(str(tmp_path / "models" / ref), (28, 28, 1))
        rate = float(np.mean(np.argmax(np.asarray(model(x_adv)), -1) == t))
        assert abs(rate - summary[f"m1_2/adv/transfer_{ref}"]) <= 3 / 300
    assert (tmp_path / "plots" / "clean_pathways.png").stat().st_size > 20_000

"""D_det (robust-before-non-robust paper, Sec. 3; docs/methods.md §A.1-A.2), end to end.

1. Train a source model C on clean D (``--source_model`` architecture, ``--source_*`` recipe;
   or take ``--source_savedmodel``); export it.
2. For every training example solve a targeted attack toward t = (y+1) mod K (``next``, D_det)
   or a random t != y (``random``, D_rand) and write (x_adv, t) as a sharded TFRecord dataset.
3. Train N2 (``--model``) on a train/val split of that dataset and log the four curves per
   epoch: ``train/accuracy``, ``val/accuracy``, ``clean/accuracy`` (D_test, true labels:
   non-robust features) and ``shift/accuracy`` (D_shift, labels (y+1) mod K: robust features).
4. Label the pathway N2 followed (analysis/pathways.py, ``--pathway_*``): tag ``pathway``, metric
   ``pathway/score``, both in ``summary.json`` (``python -m robust_keras.pathway_table`` collects
   them across runs: RB Table 5).
5. Export N2; log manifest, plots and both SavedModels.
"""

from __future__ import annotations

import json
import os

from robust_keras import progress
from robust_keras.atomic_files import write_json
from robust_keras.config import Config
from robust_keras.tracking.mirror import Run
from robust_keras.workflows import clean_data, d_det_training, exports
from robust_keras.workflows import d_det as workflow


def run(config: Config, run: Run) -> dict:
    name = "d_det_model"
    summary = run.path("summary.json")
    if exports.exported(run, name) and os.path.exists(summary):  # a rerun of a finished run: nothing to redo
        print(f"[d_det] finished earlier in {run.run_dir} (N2 exported, summary written); nothing to do", flush=True)
        with open(summary) as f:
            return json.load(f)
    rule, recipe, data_settings = config.pathway_rule, config.recipe, config.data_settings
    train, test = clean_data.load_clean(data_settings)
    n2_work = progress.training_passes(recipe.epochs, len(train), 3 * len(test))  # val + clean + shift
    stage = workflow.DDetSettings.of(config)
    plan = workflow.stages(stage, train, test, then=("N2 training", n2_work))
    directory = stage.generation.dataset_dir or run.path("d_det")
    data = workflow.ensure_dataset(stage, run, train, test, directory, plan, stream=True)
    num_classes = data.manifest["spec"]["num_classes"]
    heading = (
        f"{config.model_settings.architecture} trained on D_det of {data_settings.dataset} "
        f"({stage.attack.norm} PGD, eps {stage.attack.eps:g}, t = (y+1) mod {num_classes})\n"
    )
    with plan.stage("N2 training"):
        trainer = d_det_training.train_on_d_det(
            config.training_settings, config.common_settings, run, data, test, name=name, recipe=recipe
        )
    curves, verdict = d_det_training.label_pathway(
        run,
        num_classes,
        recipe,
        rule,
        figure="plots/d_det_curves.png",
        title=lambda v: f"{heading}pathway {v.label} (non-robust share {v.score:.2f})",
    )
    exports.export(
        run,
        trainer,
        name,
        config.provenance,
        role="model trained on D_det",
        recipe=recipe.__dict__,
        dataset_manifest=data.manifest["spec"],
    )
    final = {k: v[-1] for k, v in curves.items() if v}
    final.update({"pathway": verdict.label, "pathway/score": verdict.score})
    final.update({k: v for k, v in run.latest_metrics().items() if k.startswith(("source/", "attack/"))})
    write_json(summary, final)
    run.log_artifact(summary)
    return final

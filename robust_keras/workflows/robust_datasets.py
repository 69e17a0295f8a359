"""D_R and D_NR as a shared step (Ilyas et al. 2019 Sec. 3.1, App. C; docs/methods.md §D.2).

- :func:`models`: the adversarially trained ("robust") and the standard model as SavedModels with
  a ``representation`` endpoint: given by ``--rd_robust_savedmodel`` / ``--rd_standard_savedmodel``,
  exported earlier in this run directory, or trained now (``--source_model``, ``--source_*``
  recipe; the robust one on untargeted --attack* examples).
- :func:`ensure_datasets`: D_R (inverted through the robust model) and D_NR (through the standard
  one) as sharded TFRecord datasets under the adversarial-dataset contract: generated, finished
  after an interruption, split across processes (``--gen_stage``), or reused.

Record fields: ``image`` = x_r, ``label`` = ``orig_label`` = y (the label of the image x whose
representation x_r matches), ``index`` = i, ``target_hit`` = the model that built the dataset
predicts y on x_r.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from robust_keras import distribute
from robust_keras.attacks.inversion import RepresentationInversion, start_indices
from robust_keras.data import adversarial, adversarial_reader, transforms
from robust_keras.errors import ConfigError, DataError, StageFinished
from robust_keras.export import load_model
from robust_keras.progress import StagePlan
from robust_keras.savedmodel_hash import savedmodel_hash
from robust_keras.seeds import derive_seed
from robust_keras.settings import AttackSettings, CommonSettings, GenerationSettings, SourceSettings
from robust_keras.tracking.mirror import Run
from robust_keras.workflows import d_det, exports, source_models

# dataset name -> (model role that builds it, flag that may give that model)
DATASETS = {"d_r": ("robust", "rd_robust_savedmodel"), "d_nr": ("standard", "rd_standard_savedmodel")}
START_RULE = "other_image: x_0 = training image s_i = (i + u_i) mod n, u_i ~ U{1..n-1} (numpy PCG64, seed)"
REPRESENTATION = "penultimate layer (input of the last Dense layer; SavedModel endpoint 'representation')"


@dataclasses.dataclass(frozen=True)
class RobustDatasetSettings:
    """Everything this stage takes: the two models (given SavedModels by role, else trained as
    sources; the robust one adversarially with ``attack``), the inversion, the datasets it writes."""

    given: dict[str, str]  # role -> --rd_<role>_savedmodel ("" = train it)
    source: SourceSettings
    attack: AttackSettings
    steps: int  # --rd_steps
    step_size: float  # --rd_step_size (l2, pixel units)
    jit_compile: bool
    generation: GenerationSettings
    common: CommonSettings

    @classmethod
    def of(cls, config) -> RobustDatasetSettings:
        return cls(
            {role: getattr(config, flag) for role, flag in DATASETS.values()},
            config.source_settings,
            config.attack_settings,
            config.rd_steps,
            config.rd_step_size,
            config.jit_compile,
            config.generation_settings,
            config.common_settings,
        )


def models(settings: RobustDatasetSettings, run: Run, train, test, plan: StagePlan) -> dict[str, str]:
    """{"robust": path, "standard": path}: the two SavedModels the datasets are built through
    (``plan`` reports the training stages of models trained now)."""
    paths = {}
    for role, _ in DATASETS.values():
        given = settings.given[role]
        if given:
            paths[role] = given
            continue
        earlier = exports.exported(run, role)
        if earlier:
            paths[role] = earlier
            continue
        with plan.stage(f"{role} model"):
            adversary = settings.attack if role == "robust" else None
            paths[role] = source_models.source_model(
                settings.source, run, train, test, name=role, seed_purpose=role, adversary=adversary
            )
    return paths


def dataset_dirs(generation: GenerationSettings, run: Run) -> dict[str, str]:
    """{"d_r": dir, "d_nr": dir} under ``--dataset_dir`` if given, else the run directory."""
    base = generation.dataset_dir or run.run_dir
    return {name: os.path.join(base, name) for name in DATASETS}


def ensure_datasets(settings: RobustDatasetSettings, run: Run, train, test, plan: StagePlan) -> dict:
    """D_R and D_NR of ``train``, verified, as AdversarialData or, above ``--max_in_memory_mb``,
    ShardStream (see the module docstring for the stages).
    Under ``--strategy=multi_worker`` the workers split the inversions (distribute.split_work)."""
    generation = settings.generation
    dirs = {name: distribute.chief_path(directory) for name, directory in dataset_dirs(generation, run).items()}
    if generation.dataset_dir and generation.stage == "all" and not generation.write:
        for directory in dirs.values():  # a user's directory is only read (before any model is trained)
            d_det.check_read_only(directory, adversarial_reader.peek_manifest(directory))
    if generation.stage == "merge":
        if generation.workers < 2:
            raise ConfigError("--gen_stage=merge joins the parts of several workers", "pass --gen_workers=W (W >= 2)")
        for directory in dirs.values():
            if not adversarial_reader.is_complete(directory, adversarial_reader.peek_manifest(directory)):
                adversarial.merge(directory, generation.workers)
    if generation.stage == "shards":
        missing = [role for role, _ in DATASETS.values() if not (settings.given[role] or exports.exported(run, role))]
        if missing:
            raise DataError(
                f"--gen_stage=shards needs the {' and '.join(missing)} model, and {run.run_dir} has none yet",
                "run the same command with --gen_stage=source once first (or pass --rd_*_savedmodel)",
            )
    paths = models(settings, run, train, test, plan)
    if generation.stage == "source":
        raise StageFinished(f"models ready ({', '.join(paths.values())}); next: --gen_stage=shards --gen_worker=0..W-1")
    paths = {role: distribute.chief_export(path) for role, path in paths.items()}  # multi_worker: the chief's
    images = transforms.to_float(train.images)
    seed = derive_seed(settings.common.seed, "rd_starts")
    starts = start_indices(len(train), seed)
    unfinished = [
        n for n, d in dirs.items() if not adversarial_reader.is_complete(d, adversarial_reader.peek_manifest(d))
    ]

    def write_part(part):
        for name, (role, _) in DATASETS.items():
            if name in unfinished or generation.stage == "shards":
                with plan.stage(f"{name.upper()} inversion"):
                    _generate(settings, dirs[name], paths[role], role, train, images, (starts, seed), part)

    def merge(processes):
        for name in unfinished:
            adversarial.merge(dirs[name], processes)

    if generation.stage == "shards":
        write_part((generation.worker, generation.workers))
    else:
        distribute.split_work(write_part, merge)
    if generation.stage == "shards":
        raise StageFinished(
            f"worker {generation.worker} of {generation.workers} wrote its shards of D_R and D_NR; when every worker "
            "is done: the same command with --gen_stage=merge"
        )
    data = {name: d_det.open_dataset(generation, directory) for name, directory in dirs.items()}
    for name, directory in dirs.items():
        run.log_artifact(os.path.join(directory, adversarial_reader.MANIFEST), name)
    return data


def _generate(
    settings: RobustDatasetSettings, directory: str, model_path: str, role: str, train, images, start_rule, part
) -> None:
    """Inverts every training image's representation through ``model_path`` from its start image
    (``start_rule`` = (start index per example, the seed that drew them))."""
    starts, seed = start_rule
    model = load_model(model_path, train.image_shape, settings.common.trust_savedmodels)
    inversion = RepresentationInversion(
        model.representation, steps=settings.steps, step_size=settings.step_size, jit_compile=settings.jit_compile
    )
    labels = np.asarray(train.labels, np.int64)

    def make_batch(lo: int, hi: int, _seed_pair):
        x_r = inversion(images[lo:hi], images[starts[lo:hi]])[0]
        hit = np.argmax(np.asarray(model(x_r)), -1) == labels[lo:hi]
        return x_r.numpy(), hit

    spec = {
        "source_model": {"path": os.path.abspath(model_path), "sha256": savedmodel_hash(model_path), "role": role},
        "attack": {
            "method": "representation_inversion",
            "representation": REPRESENTATION,
            "loss": "||g(x_r) - g(x)||_2",
            "steps": settings.steps,
            "step_size": settings.step_size,
            "step": "normalised l2 gradient, clipped to [0, 1], lowest-distance iterate kept",
            "start_rule": START_RULE,
            "start_seed": seed,
        },
        "source_split": train.name,
        "dataset": settings.generation.dataset,
        "num_classes": train.num_classes,
    }
    print(f"[{os.path.basename(directory)}] inverting {len(train)} representations of the {role} model -> {directory}")
    adversarial.synthesize(
        directory,
        image_shape=images.shape[1:],
        labels=labels,
        orig_labels=labels,
        make_batch=make_batch,
        spec=spec,
        shard_size=settings.generation.shard_size,
        batch_size=settings.common.eval_batch_size,
        seed=seed,
        part=part,
    )

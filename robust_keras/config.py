"""Flag definitions (help strings state units and the paper equation they implement).

Only :mod:`robust_keras.main` reads ``FLAGS``; it turns them into a :class:`Config` that the
experiments and library receive. Budgets ε are in pixel units of inputs scaled to [0, 1].
"""

from __future__ import annotations

import dataclasses
from typing import Any

from absl import flags

DATASETS = ("mnist_sample", "mnist", "cifar10", "cinic10")
MODELS = ("cnn_mnist", "cnn_cifar", "resnet18", "resnet34", "resnet50", "two_layer")

# Flags that say which part of the work a process does or where results go, not what the
# experiment is: not logged as params of the (parent) run and not compared on resume, so every
# part of a split grid shares one parent run, and a run directory can resume against another
# tracking URI. The work-splitting ones are not written into flags.flags either.
PLACEMENT_FLAGS = frozenset(
    {
        "grid_cell",
        "grid_stage",
        "gen_stage",
        "gen_worker",
        "gen_workers",
        "mlflow_tracking_uri",
        "cluster_port_base",
        "dataset_write",
    }
)
NOT_IN_FLAGFILE = frozenset({"grid_cell", "grid_stage", "gen_stage", "gen_worker", "gen_workers", "cluster_port_base"})

# -- run / bookkeeping -------------------------------------------------------------------------
flags.DEFINE_string("experiment", "d_det", "Experiment to run (see robust_keras/experiments).")
flags.DEFINE_string("output_dir", "", "Run directory; default artifacts/runs/<experiment>-<time>.")
flags.DEFINE_string("mlflow_tracking_uri", "", "MLflow tracking URI; default sqlite:///<cwd>/artifacts/mlflow.db.")
flags.DEFINE_string("mlflow_experiment", "", "MLflow experiment name; default robust_keras/<experiment>.")
flags.DEFINE_string("run_name", "", "MLflow run name; default: the output directory's name.")
flags.DEFINE_integer("seed", 0, "Root of all randomness (data order, init, attack starts).", lower_bound=0)

# -- data ---------------------------------------------------------------------------------------
flags.DEFINE_enum("dataset", "mnist_sample", DATASETS, "Clean dataset D.")
flags.DEFINE_string("data_dir", None, "tfds data_dir (prepared datasets and downloads/manual).")
flags.DEFINE_bool("tfds_download", True, "Let tfds download data that is not prepared yet.")
flags.DEFINE_string(
    "prepare_from",
    "",
    "prepare_data: the copied download (cifar-10-binary.tar.gz, MNIST's *-ubyte.gz files, or a folder with them).",
)
flags.DEFINE_string("cinic10_dir", "", "Root of CINIC-10 in its folder layout train|valid|test/<class>/*.png.")
flags.DEFINE_integer(
    "test_per_class", 100, "mnist_sample: digits per class held out as the fixed test split.", lower_bound=1
)
flags.DEFINE_integer("max_train_examples", 0, "Use only the first N training examples (0 = all).", lower_bound=0)
flags.DEFINE_integer("max_test_examples", 0, "Use only the first N test examples (0 = all).", lower_bound=0)
flags.DEFINE_float("val_fraction", 0.1, "Fraction of the training set held out for validation.")
flags.DEFINE_list(
    "classes", [], "If set, keep only these classes, relabelled 0..n-1 in this order (CIFAR-10 car vs plane: 1,0)."
)
flags.DEFINE_list("binary_positive_classes", [], "If set, relabel to a binary task: these classes -> 1.")
flags.DEFINE_string(
    "exclude_index_file",
    "",
    "cifar10: drop the examples whose tfds ids (train_00042, test_00017: position in the original CIFAR-10 files) "
    "this file lists, one per line, e.g. CIFAR-minus-Flickr (docs/methods.md §A.8).",
)
flags.DEFINE_bool(
    "cinic10_drop_cifar", False, "cinic10: drop the images CINIC-10 took from CIFAR-10 (cifar10-* files)."
)
flags.DEFINE_list(
    "eval_datasets", ["cifar10", "cinic10"], "cross_dataset: test sets every model is evaluated on (Table 2 columns)."
)

# -- model --------------------------------------------------------------------------------------
flags.DEFINE_enum("model", "cnn_mnist", MODELS, "Architecture (docs/methods.md §B CNNs, ResNets, two-layer net).")
flags.DEFINE_integer("width", 512, "two_layer: hidden units m.", lower_bound=1)
flags.DEFINE_enum("parameterization", "standard", ["standard", "ntk"], "two_layer: init/scaling (docs/methods.md §B).")
flags.DEFINE_bool("train_second_layer", True, "two_layer: train the output layer (else fixed ±1).")
flags.DEFINE_bool("use_bias", True, "two_layer: biases in the hidden layer.")

# -- training -----------------------------------------------------------------------------------
flags.DEFINE_integer("epochs", 10, "Training epochs (of the model trained on D_det in d_det).", lower_bound=0)
flags.DEFINE_integer("batch_size", 128, "Training batch size.", lower_bound=1)
flags.DEFINE_integer("eval_batch_size", 500, "Evaluation / attack batch size.", lower_bound=1)
flags.DEFINE_enum("optimizer", "sgd", ["sgd", "adam"], "SGD with momentum, or Adam.")
flags.DEFINE_float("learning_rate", 0.01, "Peak learning rate.", lower_bound=0.0)
flags.DEFINE_float("momentum", 0.9, "SGD momentum.", lower_bound=0.0, upper_bound=1.0)
flags.DEFINE_enum("lr_schedule", "constant", ["constant", "piecewise", "cosine"], "Learning-rate schedule.")
flags.DEFINE_list("lr_boundaries", ["0.5", "0.75"], "piecewise: boundaries as fractions of training.")
flags.DEFINE_float("lr_decay", 0.1, "piecewise: factor applied at each boundary.", lower_bound=0.0)
flags.DEFINE_float(
    "weight_decay",
    0.0,
    "Coupled L2 coefficient on all trainable variables (kernels, biases, BN scales; the paper's 'L2', e.g. 5e-4).",
    lower_bound=0.0,
)
flags.DEFINE_bool("augment", False, "Random crop (pad 4) + horizontal flip.")
flags.DEFINE_bool("augment_flip", True, "With --augment: also flip horizontally (off for digits).")
flags.DEFINE_bool("mixed_precision", False, "mixed_float16 compute (GPU); logits and losses stay float32.")
flags.DEFINE_bool("jit_compile", False, "XLA-compile the training and attack steps.")
flags.DEFINE_enum(
    "strategy",
    "default",
    ["default", "mirrored", "multi_worker"],
    "tf.distribute strategy for training: default = one device; mirrored = every local GPU; multi_worker = "
    "MultiWorkerMirroredStrategy over the cluster in TF_CONFIG or the Slurm job step (README 'GPU and scale'), "
    "which also splits adversarial-dataset generation (d_det and the experiments built on it) over the workers. "
    "--batch_size is the global batch.",
)
flags.DEFINE_integer(
    "cluster_port_base", 8888, "multi_worker under Slurm: first port of the tasks on a node.", lower_bound=1
)

# -- d_det: the source model C ------------------------------------------------------------------
flags.DEFINE_string("source_savedmodel", "", "Use this SavedModel as source C instead of training one.")
flags.DEFINE_enum(
    "source_model",
    "",
    ("", *MODELS),
    "Architecture of the source model(s) C, N1, N' trained on clean D (default: --model, the one trained on D_det).",
)
flags.DEFINE_integer("source_epochs", 5, "Epochs of the source model C.", lower_bound=0)
flags.DEFINE_float("source_learning_rate", 0.05, "Learning rate of the source model C.", lower_bound=0.0)
flags.DEFINE_float("source_weight_decay", 5e-4, "L2 of the source model C.", lower_bound=0.0)
flags.DEFINE_bool("source_augment", False, "Augmentation for the source model C.")
flags.DEFINE_enum(
    "source_optimizer", "", ["", "sgd", "adam"], "Optimizer of the source model C (default: --optimizer)."
)

# -- attacks ------------------------------------------------------------------------------------
flags.DEFINE_enum(
    "attack",
    "pgd",
    ["pgd", "fgsm", "fgsm_best"],
    "pgd (best iterate kept); fgsm: one step of size eps; fgsm_best: that step or x, whichever is worse for the model.",
)
flags.DEFINE_enum("attack_norm", "l2", ["l2", "linf"], "Threat model ||x' - x|| <= eps.")
flags.DEFINE_float(
    "attack_eps",
    0.5,
    "Attack budget eps, measured in pixel units of inputs scaled to [0, 1]: an l2 radius for --attack_norm=l2 "
    "(so values above 1 are valid, e.g. 3.0), a per-pixel bound for linf (docs/methods.md §A: 0.5 l2).",
    lower_bound=0.0,
)
flags.DEFINE_float("attack_step_size", 0.1, "PGD step size (pixel units).", lower_bound=0.0)
flags.DEFINE_integer("attack_steps", 100, "PGD iterations.", lower_bound=1)
flags.DEFINE_integer("attack_restarts", 1, "Random restarts; the best iterate over all is kept.", lower_bound=1)
flags.DEFINE_enum(
    "robust_eval",
    "pgd",
    ["pgd", "apgd_ce", "apgd_t"],
    "Attack that measures robust accuracy: kernel_dynamics' per-epoch evaluator (pgd = the --attack* flags; apgd_ce / "
    "apgd_t = Auto-PGD with CE / targeted DLR at --attack_norm, --attack_eps, --attack_steps, --attack_restarts), "
    "logged as <split>/robust_accuracy, <split>/apgd_ce_robust_accuracy, <split>/apgd_t_robust_accuracy; and the "
    "feature-averaging l2 curves (pgd or apgd_ce with --fa_pgd_steps / --fa_pgd_restarts; apgd_t needs >= 4 classes); "
    "robust_datasets' per-epoch l2 / l-inf accuracies (test/[apgd_ce_|apgd_t_]l2_robust_accuracy, --rd_eval_* "
    "budgets).",
)
flags.DEFINE_bool("attack_random_start", False, "Start from a uniform random point of the eps-ball.")
flags.DEFINE_enum(
    "attack_target",
    "next",
    ["next", "random", "none"],
    "next: t=(y+1) mod K (D_det); random: t uniform over classes != y (D_rand); none: untargeted.",
)
flags.DEFINE_string(
    "dataset_dir",
    "",
    "Adversarial dataset directory; default <output_dir>/d_det (robust_datasets: the parent of d_r/, d_nr/). "
    "It must hold a complete dataset, which is only read, unless --dataset_write.",
)
flags.DEFINE_bool(
    "dataset_write",
    False,
    "With --dataset_dir: let this run generate its datasets (D_det; robust_datasets' d_r/, d_nr/) into that "
    "directory when it holds none, or finish incomplete ones (a D_det only with the source model its manifest "
    "names: refused if that model changed).",
)
flags.DEFINE_integer("shard_size", 1000, "Examples per TFRecord shard (the unit of resume).", lower_bound=1)
flags.DEFINE_integer(
    "max_in_memory_mb",
    4096,
    "Data larger than this many MiB is streamed, not loaded into memory: adversarial datasets (float32 images; "
    "d_det, pathways, cross_dataset and robust_datasets train from the shards) and train's clean tfds dataset "
    "(uint8; read from tfds' prepared files). "
    "Seeded file order, interleave, --shuffle_buffer, prefetch; under multi_worker each worker reads its own part.",
    lower_bound=0,
)
flags.DEFINE_integer(
    "shuffle_buffer",
    10_000,
    "Examples in the seeded shuffle buffer of streamed datasets (--max_in_memory_mb).",
    lower_bound=1,
)
flags.DEFINE_enum(
    "gen_stage",
    "all",
    ["all", "source", "shards", "merge"],
    "Adversarial-dataset generation across processes (d_det, pathways, transfer_split, cross_dataset): all = one "
    "process does everything; source = train and export the source model, then stop; shards = write worker "
    "--gen_worker's shards (i mod --gen_workers) and stop; merge = verify every worker's part, write the manifest, "
    "then go on as all. All processes share --output_dir (or --dataset_dir).",
)
flags.DEFINE_integer("gen_workers", 1, "--gen_stage=shards|merge: number of generating processes W.", lower_bound=1)
flags.DEFINE_integer(
    "gen_worker", 0, "--gen_stage=shards: this process's index w in 0..W-1 (e.g. $SLURM_ARRAY_TASK_ID).", lower_bound=0
)
flags.register_multi_flags_validator(
    ["gen_worker", "gen_workers"],
    lambda v: v["gen_worker"] < v["gen_workers"],
    "--gen_worker must be below --gen_workers (workers are numbered 0..W-1).",
)
flags.register_multi_flags_validator(
    ["gen_stage", "strategy"],
    lambda v: v["gen_stage"] == "all" or v["strategy"] != "multi_worker",
    "--gen_stage splits generation over separate processes; the workers of --strategy=multi_worker split it "
    "themselves: drop --gen_stage.",
)

# -- transfer -----------------------------------------------------------------------------------
flags.DEFINE_list("source_models", [], "transfer: SavedModel directories used to craft attacks.")
flags.DEFINE_list("target_models", [], "transfer: SavedModel directories the attacks are evaluated on.")
flags.DEFINE_integer("transfer_examples", 1000, "transfer: test examples attacked.", lower_bound=1)
flags.DEFINE_list(
    "transfer_train_seeds",
    [],
    "transfer: first train one clean --model per seed with the training flags (--epochs, --learning_rate...) into "
    "models/seed_<s> of this run; they join --source_models and --target_models (a rerun reuses them).",
)
flags.register_validator(
    "transfer_train_seeds", lambda v: all(s.isdigit() for s in v), "--transfer_train_seeds must be integers >= 0."
)
flags.DEFINE_bool(
    "trust_savedmodels",
    False,
    "Load and call SavedModels that can run ops outside the pure-computation allowlist "
    "(file I/O, PyFunc, datasets, summaries); see README.",
)

flags.register_validator("val_fraction", lambda v: 0.0 <= v < 1.0, "--val_fraction must be in [0, 1).")
flags.register_validator(
    "lr_boundaries",
    lambda v: all(_is_fraction(s) for s in v),
    "--lr_boundaries must be numbers in (0, 1), e.g. 0.5,0.75.",
)
flags.register_validator(
    "binary_positive_classes",
    lambda v: all(s.isdigit() for s in v),
    "--binary_positive_classes must be class indices, e.g. 1,3,5,7,9.",
)
flags.register_validator(
    "classes",
    lambda v: all(s.isdigit() for s in v) and len(set(v)) == len(v) and len(v) != 1,
    "--classes must be two or more distinct class indices, e.g. 1,0.",
)


def _is_fraction(text: str) -> bool:
    try:
        return 0.0 < float(text) < 1.0
    except ValueError:
        return False


@dataclasses.dataclass(frozen=True)
class Config:
    """Immutable snapshot of all flag values, plus paths resolved by ``main``.

    Attribute access (``config.learning_rate``) reads a flag value.
    """

    values: dict[str, Any]

    def __getattr__(self, name: str) -> Any:
        try:
            value = self.values[name]
        except KeyError:
            raise AttributeError(f"Config has no value {name!r}") from None
        _READ.add(name)
        return value


_READ: set[str] = set()  # names read through a Config in this process (main warns about flags never read)


def read_names() -> frozenset[str]:
    """The settings this process has read through :class:`Config` so far."""
    return frozenset(_READ)

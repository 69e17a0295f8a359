"""The clean dataset D: which one, where it is read from, which classes and how many examples."""

from __future__ import annotations

from absl import flags

DATASETS = ("mnist_sample", "mnist_sample_b", "uci_digits", "mnist", "cifar10", "cinic10")

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

flags.register_validator("val_fraction", lambda v: 0.0 <= v < 1.0, "--val_fraction must be in [0, 1).")
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

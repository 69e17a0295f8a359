"""Adversarial datasets: where they live, how they are sharded, streamed and generated."""

from __future__ import annotations

from absl import flags

from robust_keras.flags import compute  # noqa: F401  (defines --strategy, which a validator below reads)

# -- adversarial datasets ----------------------------------------------------------------------
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

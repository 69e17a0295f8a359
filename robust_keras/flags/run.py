"""Which experiment runs, where its results go, how it is tracked (MLflow, seed), and whether
foreign SavedModels are trusted; and which flags are placement, not experiment."""

from __future__ import annotations

from absl import flags

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
flags.DEFINE_bool(
    "trust_savedmodels",
    False,
    "Load and call SavedModels that can run ops outside the pure-computation allowlist "
    "(file I/O, PyFunc, datasets, summaries); see README.",
)

"""tf.distribute strategies from ``--strategy`` and the cluster around the process.

- ``default``: one device (``tf.distribute.get_strategy()``).
- ``mirrored``: every local GPU (``MirroredStrategy``), one process.
- ``multi_worker``: ``MultiWorkerMirroredStrategy`` over the workers in ``TF_CONFIG``, or, when the
  process is a Slurm job step (``SLURM_STEP_NUM_TASKS`` set, no ``TF_CONFIG``), over its tasks via
  ``SlurmClusterResolver`` (ports from ``--cluster_port_base``). Created once per process, before
  any other TensorFlow work, as MultiWorkerMirroredStrategy requires.

``--batch_size`` is the global batch: each of the R replicas (all devices of all workers) gets
batch / R per step, so a recipe means the same thing on one device and on many.

Chief and workers (TensorFlow's multi-worker recipe): every worker runs the same program and
saves checkpoints and SavedModels (saving may need collectives), but only the chief (task 0) writes
to ``--output_dir`` and the MLflow run; any other worker writes into a scratch directory of its own
(a throwaway run directory and SQLite store in the system temp dir, deleted when it finishes) and
reads what the chief saved -- checkpoints to resume from, finished exports -- from the chief's
directory (:func:`chief_path`), so all workers take the same path through a resumed run.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from robust_keras.atomic_files import pid_alive

_strategy: tf.distribute.Strategy | None = None
_roots: tuple[str, str] | None = None  # (this worker's scratch dir, the chief's output dir)


def cluster_resolver(port_base: int):
    """The cluster of this process: TF_CONFIG if set, else Slurm's job step, else None."""
    if os.environ.get("TF_CONFIG"):
        return tf.distribute.cluster_resolver.TFConfigClusterResolver()
    if os.environ.get("SLURM_STEP_NUM_TASKS"):
        gpus = len(tf.config.list_physical_devices("GPU"))
        if not gpus:  # CPU nodes: the resolver pairs each task with a GPU slot; give it one per task, unused
            slots = int(os.environ["SLURM_STEP_NUM_TASKS"])
            return tf.distribute.cluster_resolver.SlurmClusterResolver(
                port_base=port_base, gpus_per_node=slots, gpus_per_task=1, auto_set_gpu=False
            )
        return tf.distribute.cluster_resolver.SlurmClusterResolver(port_base=port_base, gpus_per_node=gpus)
    return None


def strategy(name: str, port_base: int = 8888) -> tf.distribute.Strategy:
    """The process's strategy for ``--strategy=name`` (the multi-worker one is made once)."""
    global _strategy
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name != "multi_worker":
        return tf.distribute.get_strategy()
    if _strategy is None:
        resolver = cluster_resolver(port_base)
        if resolver is None:
            raise RuntimeError("--strategy=multi_worker needs TF_CONFIG or a Slurm job step")
        _strategy = tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver)
    return _strategy


def task() -> tuple[str, int]:
    """(task type, index) of this process in the multi-worker cluster; ("worker", 0) otherwise."""
    resolver = getattr(_strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return "worker", 0
    return resolver.task_type, int(resolver.task_id or 0)


def rank() -> tuple[int, int]:
    """(this process's place, number of processes) in the multi-worker cluster: the chief task
    first, then the workers in index order; (0, 1) in one process."""
    resolver = getattr(_strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return 0, 1
    spec = resolver.cluster_spec().as_dict()
    chiefs, workers = len(spec.get("chief", [])), len(spec.get("worker", []))
    task_type, task_id = task()
    return (task_id if task_type == "chief" else chiefs + task_id), chiefs + workers


def barrier() -> None:
    """Returns once every process of the multi-worker cluster has called it (an all-reduce of one
    number over all replicas, TensorFlow's collectives; no timeout, like every MWMS collective).
    Every process must call the barriers in the same order. Nothing to wait for in one process."""
    if _strategy is None or rank()[1] == 1:
        return
    ones = _strategy.run(lambda: tf.constant(1.0))
    arrived = int(_strategy.reduce(tf.distribute.ReduceOp.SUM, ones, axis=None))
    if arrived != _strategy.num_replicas_in_sync:
        raise RuntimeError(f"barrier: {arrived} of {_strategy.num_replicas_in_sync} replicas arrived")


def chief_export(path: str) -> str:
    """``path`` (an export every process has just made or found) as the chief's copy, once the chief
    has written it: a barrier, then :func:`chief_path`. The path itself in one process. Every
    process then reads the same files, so records that name them (manifests) agree."""
    if rank()[1] == 1:
        return path
    barrier()
    return chief_path(path)


def split_work(write_part, merge) -> None:
    """Work split over the processes of the cluster, then joined: ``write_part((p, P))`` in every
    process p of P; once all have written (a barrier), ``merge(P)`` on the chief; then all go on
    together (a second barrier). One process: ``write_part((0, 1))`` only."""
    me, processes = rank()
    write_part((me, processes))
    if processes > 1:
        barrier()
        if me == 0:
            merge(processes)
        barrier()


def is_chief() -> bool:
    """True for the process that owns the run directory and the MLflow run."""
    task_type, task_id = task()
    return task_type == "chief" or (task_type == "worker" and task_id == 0 and not _has_chief_task())


def _has_chief_task() -> bool:
    resolver = getattr(_strategy, "cluster_resolver", None)
    return bool(resolver) and "chief" in resolver.cluster_spec().as_dict()


def redirect_worker(values: dict) -> dict:
    """For a non-chief worker: ``values`` (the run's flag values) with ``output_dir`` and the
    tracking URI moved to a fresh scratch directory; remembers the chief's directory for
    :func:`chief_path`. The chief's values are returned unchanged."""
    global _roots
    if is_chief():
        return values
    task_type, task_id = task()
    _remove_orphaned_scratch()
    scratch = tempfile.mkdtemp(prefix=f"{_SCRATCH_PREFIX}{os.getpid()}-{task_type}{task_id}-")
    _roots = (scratch, values["output_dir"])
    return {**values, "output_dir": scratch, "mlflow_tracking_uri": f"sqlite:///{scratch}/mlflow.db"}


_SCRATCH_PREFIX = "robust_keras-pid"


def _remove_orphaned_scratch() -> None:
    """Deletes scratch directories of workers of this host that were killed before their cleanup
    (their pid is in the name and no longer runs)."""
    for path in glob.glob(os.path.join(glob.escape(tempfile.gettempdir()), f"{_SCRATCH_PREFIX}*")):
        pid = os.path.basename(path)[len(_SCRATCH_PREFIX) :].split("-")[0]
        if pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def chief_path(path: str) -> str:
    """Where the chief keeps what this process keeps at ``path`` (identity on the chief)."""
    if _roots is None:
        return path
    scratch, chief = _roots
    relative = os.path.relpath(os.path.abspath(path), scratch)
    return path if relative.startswith("..") else os.path.join(chief, relative)


def cleanup() -> None:
    """Deletes a worker's scratch directory (nothing on the chief)."""
    if _roots is not None:
        shutil.rmtree(_roots[0], ignore_errors=True)


def describe() -> str:
    """One line naming this process's place in the cluster, for the log."""
    if _strategy is None:
        return "single process"
    spec = json.dumps(_strategy.cluster_resolver.cluster_spec().as_dict(), sort_keys=True)
    task_type, task_id = task()
    role = "chief" if is_chief() else "non-chief (writes to a scratch dir, deleted at the end)"
    return f"{task_type} {task_id} of {spec}: {role}, {_strategy.num_replicas_in_sync} replicas in sync"


def split_over_replicas(attack_fn, strategy: tf.distribute.Strategy):
    """``attack_fn(x, t, seed) -> (x_adv, hit)`` on every device of ``strategy``: the NumPy batch is
    cut into R contiguous parts, replica r attacks part r with seed (seed[0], seed[1] * R + r), and
    the parts are joined in order. One replica: ``attack_fn`` itself (the same seeds as before).
    Attacks without random starts give every example the same iterates either way. The model's
    variables stay where they were loaded (a SavedModel loaded under the strategy's scope cannot be
    called inside ``strategy.run``); other devices read them each step."""
    replicas = strategy.num_replicas_in_sync
    if replicas == 1:
        return attack_fn

    def run(x, t, seed):
        parts = np.array_split(np.arange(len(x)), replicas)

        def inputs(context):
            r = context.replica_id_in_sync_group
            rows = parts[r]
            return tf.constant(x[rows]), tf.constant(t[rows]), tf.constant([seed[0], seed[1] * replicas + r], tf.int64)

        per_replica = strategy.run(
            lambda a: attack_fn(*a), args=(strategy.experimental_distribute_values_from_function(inputs),)
        )
        joined = [
            np.concatenate([np.asarray(v) for v in strategy.experimental_local_results(out)]) for out in per_replica
        ]
        return joined[0], joined[1]

    return run

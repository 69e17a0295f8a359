"""A custom training loop: compiled steps, per-epoch evaluators, checkpoints and resume.

The step is a ``tf.function`` with a free batch dimension (traced once), optionally
XLA-compiled, and runs under any ``tf.distribute`` strategy (default, Mirrored...). The loss
is the mean cross-entropy over the global batch plus the coupled L2 penalty
``weight_decay / 2 * sum ||w||^2`` over all trainable variables (the gradient term
``weight_decay * w`` of PyTorch's ``SGD(weight_decay=...)``, which the papers' "L2" means).
"""

from __future__ import annotations

import glob
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Iterable

import keras
import tensorflow as tf

from robust_keras import distribute
from robust_keras.atomic_files import write_json
from robust_keras.errors import TrainingError, first_line
from robust_keras.faults import die, fail_point, fill_disk

Metrics = dict[str, float]
# tf.distribute.InputContext -> this input pipeline's dataset of per-replica (image, label) batches
PerWorkerInput = Callable[[tf.distribute.InputContext], tf.data.Dataset]
_EPOCH_METRICS = "last_epoch_metrics.json"  # beside the checkpoint: the metrics of its epoch
_SHOWN = ("accuracy", "attack_success", "performance_correlation")  # metrics printed after each epoch


class Trainer:
    """Owns a model, its optimizer and the compiled train / predict functions."""

    def __init__(
        self,
        model: keras.Model,
        optimizer,
        *,
        weight_decay: float = 0.0,
        jit_compile: bool = False,
        strategy: tf.distribute.Strategy | None = None,
        adversary: Callable[[tf.Tensor, tf.Tensor, tuple[int, int]], tf.Tensor] | None = None,
        before_epoch: Callable[[int], Metrics] | None = None,
    ):
        """``adversary``: (x, y, stateless seed) -> x' applied to every training batch inside the
        replica step, before the update (PGD adversarial training, Madry et al. 2018): each replica
        attacks its own share of the batch with the current weights, seed (epoch, batch * R + replica).
        ``before_epoch``: 0-based epoch -> metrics, called before each epoch's first step (outside
        the compiled step, e.g. to set the attack's budget for that epoch); its metrics join the
        epoch's."""
        self.model = model
        self.adversary = adversary
        self.before_epoch = before_epoch
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.strategy = strategy or tf.distribute.get_strategy()
        with self.strategy.scope():  # slots exist before tracing (lazy creation breaks Mirrored)
            optimizer.build(model.trainable_variables)
        spec = (tf.TensorSpec([None, *model.input_shape[1:]], tf.float32), tf.TensorSpec([None], tf.int64))
        self._train_step = tf.function(self._distributed_step, reduce_retracing=True)
        # Inside strategy.run the step (attack included) sees per-replica tensors; XLA compiles that
        # replica step. It is handed to strategy.run itself: a tf.function nested in a Python replica
        # function could not hold the optimizer's cross-replica update.
        replica_step = self._replica_step
        self._step_fn = (
            tf.function(replica_step, jit_compile=True, reduce_retracing=True) if jit_compile else replica_step
        )
        self.predict = tf.function(
            lambda x: model(x, training=False), input_signature=spec[:1], jit_compile=jit_compile
        )

    def _step(self, x, y):
        with tf.GradientTape() as tape:
            logits = tf.cast(self.model(x, training=True), tf.float32)  # (B, K)
            per_example = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
            loss = tf.nn.compute_average_loss(per_example)
            if self.weight_decay:
                l2 = tf.add_n(
                    [tf.reduce_sum(tf.square(tf.cast(v, tf.float32))) for v in self.model.trainable_variables]
                )
                loss += 0.5 * self.weight_decay * l2 / self.strategy.num_replicas_in_sync
            scaled = self.optimizer.scale_loss(loss) if hasattr(self.optimizer, "scale_loss") else loss
        grads = tape.gradient(scaled, self.model.trainable_variables)
        self.optimizer.apply(grads, self.model.trainable_variables)
        correct = tf.reduce_sum(tf.cast(tf.argmax(logits, -1) == y, tf.float32))
        return tf.reduce_sum(per_example), correct, tf.cast(tf.shape(y)[0], tf.float32)

    def _replica_step(self, x, y, seed):
        if self.adversary is not None:
            replicas = self.strategy.num_replicas_in_sync
            replica = tf.distribute.get_replica_context().replica_id_in_sync_group
            x = self.adversary(x, y, (seed[0], seed[1] * replicas + tf.cast(replica, tf.int64)))
        return self._step(x, y)

    def _distributed_step(self, x, y, seed):
        per_replica = self.strategy.run(self._step_fn, args=(x, y, seed))
        return [self.strategy.reduce(tf.distribute.ReduceOp.SUM, t, axis=None) for t in per_replica]

    def train_epoch(
        self,
        dataset: tf.data.Dataset | PerWorkerInput,
        log: Callable[[str], None] | None = None,
        every_seconds: float = 20.0,
        epoch: int = 0,
    ) -> Metrics:
        """One pass over ``dataset`` -> ``train/loss``, ``train/accuracy``.

        ``dataset``: a tf.data.Dataset of global (image, label) batches, which the strategy splits
        (under multi_worker every worker builds it whole and keeps its share), or a
        :data:`PerWorkerInput` that builds each worker's own part of the epoch in per-replica
        batches (``distribute_datasets_from_function``: e.g. shard files read by one worker only).
        Workers whose part runs out first get empty batches until all are done (TensorFlow's
        partial-batch handling under MultiWorkerMirroredStrategy)."""
        extra = self.before_epoch(epoch) if self.before_epoch else {}
        if callable(dataset):
            dist = self.strategy.distribute_datasets_from_function(dataset)
        else:
            dist = self.strategy.experimental_distribute_dataset(dataset)
        loss_sum = correct = count = 0.0
        last = start = time.time()
        for i, (x, y) in enumerate(dist):
            seed = tf.constant([epoch, i], tf.int64)  # seeds the attack: a resumed run replays it
            loss_b, correct_b, count_b = self._train_step(x, y, seed)
            if fail_point("train_step"):  # fault injection: a process killed mid-epoch
                die()
            loss_sum, correct, count = loss_sum + float(loss_b), correct + float(correct_b), count + float(count_b)
            if log and time.time() - last > every_seconds:
                last = time.time()
                log(f"  step {i + 1}: {count / (last - start):.0f} img/s, train acc {correct / count:.3f}")
        return {"train/loss": loss_sum / max(count, 1), "train/accuracy": correct / max(count, 1), **extra}


def fit(
    trainer: Trainer,
    *,
    epochs: int,
    start_epoch: int = 0,
    train_data: Callable[[int], tf.data.Dataset],
    evaluators: Iterable = (),
    checkpoint_dir: str | None = None,
    on_epoch_end: Callable[[int, Metrics], None] | None = None,
    on_resume: Callable[[int, Metrics], None] | None = None,
    log: Callable[[str], None] = print,
    name: str = "model",
) -> list[Metrics]:
    """Trains for ``epochs`` epochs, evaluating and checkpointing after each.

    Args:
      start_epoch: epochs already done elsewhere (e.g. before a linearization); the first epoch
        run here is start_epoch + 1 unless a checkpoint says otherwise.
      train_data: epoch number -> that epoch's dataset or PerWorkerInput (deterministic, so
        resumes replay it).
      evaluators: objects with ``evaluate(predict)`` yielding ``(name, value)``.
      checkpoint_dir: if set, the model, optimizer and epoch counter are saved after every
        epoch and restored on start, so a killed run continues where it stopped.
      on_epoch_end: called with (epoch index from 1, metrics) -- e.g. to log to MLflow.
      on_resume: called on a resume with (restored epoch, its metrics as saved with its
        checkpoint): a kill between the checkpoint and ``on_epoch_end`` loses no metrics if this
        logs them (idempotently: they may have been logged already).
    Returns:
      Metrics of the epochs run by this call.
    """
    epoch_var = tf.Variable(start_epoch, dtype=tf.int64, trainable=False)
    manager = None
    if checkpoint_dir:
        ckpt = tf.train.Checkpoint(model=trainer.model, optimizer=trainer.optimizer, epoch=epoch_var)
        manager = tf.train.CheckpointManager(ckpt, checkpoint_dir, max_to_keep=1)
        restore_dir = distribute.chief_path(checkpoint_dir)  # multi-worker: every worker resumes from the chief's
        latest = tf.train.latest_checkpoint(restore_dir)
        if latest:
            _restore(ckpt, latest, name, restore_dir)
            restored = int(epoch_var.numpy())
            log(f"[{name}] resumed from {latest} after epoch {restored}")
            saved = _read_epoch_metrics(restore_dir)
            if on_resume and saved and saved["epoch"] == restored:
                on_resume(restored, saved["metrics"])
    history = []
    for epoch in range(int(epoch_var.numpy()), epochs):
        start = time.time()
        metrics = trainer.train_epoch(train_data(epoch), log=log, epoch=epoch)
        if not math.isfinite(metrics["train/loss"]):  # before the checkpoint: the last good epoch stays
            raise TrainingError(
                f"[{name}] the training loss became {metrics['train/loss']} in epoch {epoch + 1}",
                "lower --learning_rate (or the L2 / momentum), then rerun: training resumes from the last good epoch",
            )
        for evaluator in evaluators:
            metrics.update(evaluator.evaluate(trainer.predict))
        metrics["time/epoch_seconds"] = time.time() - start
        epoch_var.assign(epoch + 1)
        if manager:  # the epoch's metrics first, so that its checkpoint never exists without them
            _write_epoch_metrics(checkpoint_dir, epoch + 1, metrics)
            _save_checkpoint(manager, checkpoint_dir, epoch + 1)
            if fail_point("after_checkpoint"):
                die()
        shown = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if k.endswith(_SHOWN) or "/transfer_" in k)
        log(f"[{name}] epoch {epoch + 1}/{epochs} ({metrics['time/epoch_seconds']:.1f}s): {shown}")
        if on_epoch_end:
            on_epoch_end(epoch + 1, metrics)
        history.append(metrics)
    return history


def _restore(ckpt, latest: str, name: str, directory: str) -> None:
    """Restores ``latest``; a truncated or corrupt checkpoint is one line naming the fix."""
    try:
        ckpt.restore(latest).assert_existing_objects_matched()
    except (IndexError, ValueError, AssertionError, tf.errors.OpError) as e:
        raise TrainingError(
            f"[{name}] checkpoint {latest} cannot be restored ({first_line(e)})",
            f"it is truncated or from another model: delete {directory} and rerun to train {name} from scratch "
            "(the run's other results are kept)",
        ) from None


def _save_checkpoint(manager, checkpoint_dir: str, epoch: int) -> None:
    """Saves epoch ``epoch``; if the write fails (a full disk), removes the partial files it left
    (TensorFlow writes ``ckpt-N_temp/`` first) and re-raises: the previous checkpoint stays the latest."""
    if fail_point("disk_full_before_checkpoint"):
        fill_disk(checkpoint_dir)
    try:
        manager.save(checkpoint_number=epoch)
    except tf.errors.OpError:
        for partial in glob.glob(os.path.join(glob.escape(checkpoint_dir), f"ckpt-{epoch}*")):
            shutil.rmtree(partial, ignore_errors=True) if os.path.isdir(partial) else os.remove(partial)
        raise


def _write_epoch_metrics(checkpoint_dir: str, epoch: int, metrics: Metrics) -> None:
    os.makedirs(checkpoint_dir, exist_ok=True)
    write_json(
        os.path.join(checkpoint_dir, _EPOCH_METRICS),
        {"epoch": epoch, "metrics": {k: float(v) for k, v in metrics.items()}},
    )


def _read_epoch_metrics(checkpoint_dir: str) -> dict | None:
    path = os.path.join(checkpoint_dir, _EPOCH_METRICS)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def checkpoint_path(run_dir: str, name: str) -> str:
    return os.path.join(run_dir, "checkpoints", name)

"""robust_datasets: D_R and D_NR by representation inversion (flags; Ilyas et al. 2019 Sec. 3.1,
App. C; docs/methods.md §D.2). The two models that build them use the --source_model architecture
and --source_* recipe (the robust one adversarially trained with the --attack* flags); the models
trained on D_R and D_NR use --model and the training flags."""

from absl import flags

# the experiments that read these flags (--help=<experiment> shows them)
READERS = ("robust_datasets",)

flags.DEFINE_string(
    "rd_robust_savedmodel", "", "robust_datasets: build D_R through this SavedModel instead of training one."
)
flags.DEFINE_string(
    "rd_standard_savedmodel", "", "robust_datasets: build D_NR through this SavedModel instead of training one."
)
flags.DEFINE_integer("rd_steps", 1000, "robust_datasets: normalised l2 gradient steps of the inversion.", lower_bound=1)
flags.DEFINE_float(
    "rd_step_size",
    0.1,
    "robust_datasets: l2 length of one inversion step (pixel units of [0, 1] images).",
    lower_bound=0,
)
flags.DEFINE_float(
    "rd_eval_l2_eps", 0.25, "robust_datasets: l2 radius (pixel units) of the per-epoch robust accuracy.", lower_bound=0
)
flags.DEFINE_float(
    "rd_eval_linf_eps",
    8 / 255,
    "robust_datasets: l-inf radius (pixel units) of the per-epoch robust accuracy.",
    lower_bound=0,
)
flags.DEFINE_integer(
    "rd_eval_steps", 20, "robust_datasets: attack steps of the robust accuracy (step 2.5 eps / steps).", lower_bound=1
)
flags.DEFINE_list(
    "rd_eval_l2_sweep",
    [],
    "robust_datasets: l2 radii (> 0) at which, after training, the four models (robust and standard source, "
    "trained on D_R, on D_NR) are attacked on the --rd_eval_examples test images (sweep.json, "
    "plots/robust_accuracy_vs_eps.png); empty: no sweep.",
)
flags.DEFINE_integer(
    "rd_eval_examples", 1000, "robust_datasets: test images attacked each epoch (the first ones).", lower_bound=1
)

"""The attack of D_det generation and adversarial training, and the attack of robust accuracy."""

from __future__ import annotations

from absl import flags

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
    ["pgd", "apgd_ce", "apgd_t", "autoattack"],
    "Attack that measures robust accuracy: kernel_dynamics' per-epoch evaluator (pgd = the --attack* flags; apgd_ce / "
    "apgd_t = Auto-PGD with CE / targeted DLR at --attack_norm, --attack_eps, --attack_steps, --attack_restarts; "
    "autoattack = AutoAttack's standard version at --attack_norm, --attack_eps: APGD-CE, APGD-T, FAB-T, Square with "
    "100 steps, 9 targets, 5,000 queries, slow on a CPU; a two-class task gets its two-class part, APGD-CE, FAB-T, "
    "Square; apgd_t and autoattack are refused for 3 classes), logged as <split>/robust_accuracy, "
    "<split>/apgd_ce_robust_accuracy, <split>/apgd_t_robust_accuracy, <split>/autoattack_robust_accuracy; and the "
    "feature-averaging l2 curves and adversarial-GD gap (pgd or apgd_ce with --fa_pgd_steps / --fa_pgd_restarts; "
    "autoattack = the standard version's two-class part: APGD-CE, FAB-T toward the other class, Square; apgd_t needs "
    ">= 4 classes); robust_datasets' per-epoch l2 / l-inf accuracies (test/[apgd_ce_|apgd_t_|autoattack_]"
    "l2_robust_accuracy, --rd_eval_* budgets).",
)
flags.DEFINE_bool("attack_random_start", False, "Start from a uniform random point of the eps-ball.")
flags.DEFINE_integer(
    "attack_eps_ramp_epochs",
    0,
    "Adversarial training only: grow --attack_eps and --attack_step_size linearly over the first N epochs (epoch e "
    "of N attacks with e/N of both; logged as train/attack_eps); 0: the full budget from the first epoch.",
    lower_bound=0,
)
flags.DEFINE_enum(
    "attack_target",
    "next",
    ["next", "random", "none"],
    "next: t=(y+1) mod K (D_det); random: t uniform over classes != y (D_rand); none: untargeted.",
)

"""evaluate: robust accuracy of any SavedModel under an ensemble of attacks (flags; docs/methods.md §D.3)."""

from absl import flags

# the experiments that read these flags (--help=<experiment> shows them)
READERS = ("evaluate",)

ATTACK_NAMES = ("apgd_ce", "apgd_t", "fab_t", "square")  # attacks/ensemble.ATTACKS (flags load before TensorFlow)

flags.DEFINE_string(
    "evaluate_savedmodel",
    "",
    "SavedModel directory to evaluate: one of ours (models/<name> of a run) or a foreign one (inspected "
    "for ops outside the pure-computation allowlist unless --trust_savedmodels). Its input: images in [0, 1].",
)
flags.DEFINE_list(
    "eval_eps",
    [],
    "Budgets eps to evaluate, in pixel units of inputs in [0, 1], on the --attack_norm ball "
    "(e.g. 0.0313725 = 8/255); empty: --attack_eps.",
)
flags.DEFINE_list(
    "eval_attacks",
    list(ATTACK_NAMES),
    "Attacks in the order they run, each on the examples still classified correctly (AutoAttack's "
    "protocol): apgd_ce, apgd_t (targeted DLR, one run per target), fab_t (minimal-norm, one run per "
    "target), square (black box). The default, with 100 steps, 9 targets and 5,000 queries, is "
    "AutoAttack's standard version.",
)
flags.DEFINE_integer("eval_steps", 100, "APGD and FAB-T iterations per run (AutoAttack: 100).", lower_bound=1)
flags.DEFINE_integer("eval_queries", 5000, "Square Attack iterations per example (AutoAttack: 5,000).", lower_bound=1)
flags.DEFINE_integer(
    "eval_target_classes",
    9,
    "APGD-T and FAB-T targets: the most likely wrong classes at x (AutoAttack: 9).",
    lower_bound=1,
)
flags.register_validator(
    "eval_attacks",
    lambda v: bool(v) and all(a in ATTACK_NAMES for a in v),
    f"--eval_attacks takes a non-empty list of {', '.join(ATTACK_NAMES)}.",
)
flags.register_validator(
    "eval_eps", lambda v: all(_positive(s) for s in v), "--eval_eps must be positive numbers (pixel units)."
)


def _positive(text: str) -> bool:
    try:
        return float(text) > 0.0
    except ValueError:
        return False

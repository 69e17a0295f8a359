"""evaluate: robust accuracy of any SavedModel under an ensemble of attacks (flags; docs/methods.md §D.3)."""

from absl import flags

# the experiments that read these flags (--help=<experiment> shows them)
READERS = ("evaluate",)

# attacks/ensemble.ATTACKS and STANDARD (flags load before TensorFlow)
ATTACK_NAMES = ("apgd_ce", "apgd_dlr", "apgd_t", "fab_t", "square")
STANDARD_ATTACKS = ("apgd_ce", "apgd_t", "fab_t", "square")
# the flags --eval_version=custom reads; the other versions fix them (left at these defaults)
SETTINGS_DEFAULTS = {
    "eval_attacks": list(STANDARD_ATTACKS),
    "eval_steps": 100,
    "eval_queries": 5000,
    "eval_target_classes": 9,
    "eval_eot": 1,
}

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
flags.DEFINE_enum(
    "eval_version",
    "standard",
    ["standard", "rand", "standard_two_class", "custom"],
    "The attack ensemble, as AutoAttack names its versions. standard: APGD-CE, APGD-T, FAB-T, Square "
    "(100 steps, 9 targets, 5,000 queries). standard_two_class, for two-class models: the standard version "
    "without APGD-T (its targeted DLR loss needs 4 classes), FAB-T toward the one other class. "
    "rand, for randomised defences (logits that change from "
    "call to call): APGD-CE and APGD-DLR, 100 steps, each gradient averaged over 20 draws of the model "
    "(EOT). custom: the attacks and settings of --eval_attacks, --eval_steps, --eval_queries, "
    "--eval_target_classes, --eval_eot (which standard and rand leave at their defaults).",
)
flags.DEFINE_list(
    "eval_attacks",
    SETTINGS_DEFAULTS["eval_attacks"],
    "--eval_version=custom: attacks in the order they run, each on the examples still classified "
    "correctly (AutoAttack's protocol): apgd_ce, apgd_dlr, apgd_t (targeted DLR, one run per target), "
    "fab_t (minimal-norm, one run per target), square (black box).",
)
flags.DEFINE_integer(
    "eval_steps", 100, "--eval_version=custom: APGD and FAB-T iterations per run (AutoAttack: 100).", lower_bound=1
)
flags.DEFINE_integer(
    "eval_queries",
    5000,
    "--eval_version=custom: Square Attack iterations per example (AutoAttack: 5,000).",
    lower_bound=1,
)
flags.DEFINE_integer(
    "eval_target_classes",
    9,
    "--eval_version=custom: APGD-T and FAB-T targets, the most likely wrong classes at x (AutoAttack: 9).",
    lower_bound=1,
)
flags.DEFINE_integer(
    "eval_eot",
    1,
    "--eval_version=custom: draws of the model each APGD gradient averages (1: deterministic model; "
    "AutoAttack's rand version: 20).",
    lower_bound=1,
)
flags.register_validator(
    "eval_attacks",
    lambda v: bool(v) and all(a in ATTACK_NAMES for a in v),
    f"--eval_attacks takes a non-empty list of {', '.join(ATTACK_NAMES)}.",
)
flags.register_multi_flags_validator(
    ["eval_version", *SETTINGS_DEFAULTS],
    lambda v: v["eval_version"] == "custom" or all(v[k] == d for k, d in SETTINGS_DEFAULTS.items()),
    "--eval_attacks, --eval_steps, --eval_queries, --eval_target_classes and --eval_eot choose the attacks "
    "of --eval_version=custom; standard, standard_two_class and rand fix them -- add --eval_version=custom.",
)
flags.register_validator(
    "eval_eps", lambda v: all(_positive(s) for s in v), "--eval_eps must be positive numbers (pixel units)."
)


def _positive(text: str) -> bool:
    try:
        return float(text) > 0.0
    except ValueError:
        return False

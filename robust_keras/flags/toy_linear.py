"""toy_linear: the toy linear model (flags; robust-before-non-robust Sec. 5, App. A; docs/methods.md §A.7)."""

from absl import flags

# the experiments that read these flags (--help=<experiment> shows them)
READERS = ("toy_linear",)

flags.DEFINE_integer("toy_n", 1000, "Training points n (n << d so the noise coordinates are distinct).", lower_bound=2)
flags.DEFINE_integer("toy_d", 1_000_000_000, "Input dimension d (noise coordinate q uniform in {3..d}).", lower_bound=3)
flags.DEFINE_float("toy_p", 0.2, "Robust coordinate is wrong with probability p (0 < p < 1/2).")
flags.DEFINE_list(
    "toy_k",
    ["1.5", "2", "3", "4", "6", "8", "12", "20"],
    "Sweep of k: the non-robust coordinate is wrong with probability p/k (k >= 1).",
)
flags.DEFINE_float("toy_eps", 0.035, "Size eps of the non-robust coordinate x_2 = eps * y_2 (0 < eps < 1).")
flags.DEFINE_float("toy_lr", 1.0, "GD step eta > 0 on (1/2n)||Aw - y||^2 (must be below the printed bound).")
flags.DEFINE_integer("toy_steps", 20000, "GD steps (about 20 n reach the interpolant at eta = 1).", lower_bound=1)
flags.DEFINE_integer("toy_seeds", 5, "Independent training sets per k.", lower_bound=1)
flags.DEFINE_integer("toy_test_samples", 100_000, "Fresh points estimating population accuracy.", lower_bound=100)
flags.register_validator("toy_p", lambda v: 0.0 < v < 0.5, "--toy_p must be in (0, 0.5).")
flags.register_validator(
    "toy_lr", lambda v: v > 0.0, "--toy_lr must be > 0 (at 0 GD never moves and Theorem 1 would be checked on w(0))."
)
flags.register_validator("toy_eps", lambda v: 0.0 < v < 1.0, "--toy_eps must be in (0, 1).")
flags.register_validator("toy_k", lambda v: all(_number_at_least_one(s) for s in v), "--toy_k must be numbers >= 1.")


def _number_at_least_one(text: str) -> bool:
    try:
        return float(text) >= 1.0
    except ValueError:
        return False

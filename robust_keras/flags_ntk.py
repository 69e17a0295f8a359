"""Flags of the NTK experiments (METHODS §B)."""

from absl import flags

flags.DEFINE_integer(
    "ntk_batch", 64, "Fixed batch (first N test inputs) whose empirical NTK is tracked.", lower_bound=2
)
flags.DEFINE_integer("ntk_every", 1, "Compute the kernel every N epochs.", lower_bound=1)
flags.DEFINE_integer("ntk_top", 20, "r of the top-r eigenspace for polar dynamics (paper: 20).", lower_bound=1)
flags.DEFINE_enum("ntk_method", "auto", ["auto", "structured", "jacobian", "vp"], "Empirical-NTK implementation.")
flags.DEFINE_integer("ntk_chunk", 32, "Inputs per chunk of the kernel computation (memory bound).", lower_bound=1)
flags.DEFINE_integer("ntk_features", 100, "ntk_features: eigen-features analysed (the top N).", lower_bound=2)

"""Feature averaging: feature_averaging, feature_averaging_real (flags; docs/methods.md §C; *default* values
from replications)."""

from absl import flags

# the experiments that read these flags (--help=<experiment> shows them)
READERS = ("feature_averaging", "feature_averaging_real")

flags.DEFINE_integer("fa_k", 10, "Number of clusters k (orthogonal centres, ||mu_j|| = sqrt(d)).", lower_bound=2)
flags.DEFINE_integer("fa_d", 3072, "Input dimension d.", lower_bound=2)
flags.DEFINE_integer("fa_n", 1000, "Training points n (equal share per cluster).", lower_bound=2)
flags.DEFINE_integer("fa_n_test", 1000, "Held-out points for robust accuracy.", lower_bound=1)
flags.DEFINE_float("fa_sigma", 1.0, "Noise std sigma: x = mu_j + xi, xi ~ N(0, sigma^2 I).", lower_bound=0.0)
flags.DEFINE_integer("fa_m", 5, "Neurons per sign m of the binary net (2m hidden units).", lower_bound=1)
flags.DEFINE_list("fa_positive_clusters", [], "Clusters of J+ (default: the first k/2).")
flags.DEFINE_float("fa_lr_scale", 1.0, "GD step eta = c / sqrt(d): c (paper: eta = Theta(1/sqrt d)).", lower_bound=0)
flags.DEFINE_float(
    "fa_init_scale",
    0.1,
    "Init std s: w ~ N(0, s^2 I/d), b ~ N(0, s^2/d^2). The poster's s = 1 leaves the random init larger than "
    "what GD learns at d = 3072, and the k-class net's robustness drowns in it (docs/methods.md §C.1).",
    lower_bound=0,
)
flags.DEFINE_integer("fa_steps", 2000, "Full-batch GD steps per model.", lower_bound=1)
flags.DEFINE_integer("fa_eval_every", 200, "Diagnostics (lambda, cosines, accuracy) every N steps.", lower_bound=1)
flags.DEFINE_list("fa_heatmap_steps", ["0", "200", "2000"], "GD steps at which cosine heatmap PNGs are drawn.")
flags.DEFINE_float("fa_robust_bias", -0.5, "f_robust bias b in units of d (b = value * d filters the noise).")
flags.DEFINE_list(
    "fa_radii",
    ["0", "0.05", "0.1", "0.15", "0.2", "0.25", "0.3", "0.4", "0.5", "0.6", "0.8", "1.0"],
    "l2 radii for robust accuracy, in units of sqrt(d) (theory markers at 1/sqrt(k) and 1).",
)
flags.DEFINE_integer("fa_pgd_steps", 40, "PGD steps of the robustness curves (step 2.5 r / steps).", lower_bound=1)
flags.DEFINE_integer("fa_pgd_restarts", 1, "PGD random restarts of the robustness curves.", lower_bound=1)
flags.DEFINE_enum("fa_adversarial", "none", ["none", "l2", "linf"], "Also train the binary net adversarially.")
flags.DEFINE_float("fa_adv_eps", 0.2, "Adv. training radius (l2: units of sqrt d; linf: absolute).", lower_bound=0)
flags.DEFINE_integer("fa_adv_steps", 10, "PGD steps per GD step in adversarial training.", lower_bound=1)
flags.DEFINE_list("fa_real_radii", ["0", "0.25", "0.5", "1", "1.5", "2", "3"], "Real data: l2 radii in pixel units.")
flags.DEFINE_enum("fa_readout", "logsumexp", ["logsumexp", "sum"], "Real data: binary readout of a 10-class net.")

for _name in ("fa_positive_clusters", "fa_heatmap_steps"):
    flags.register_validator(_name, lambda v: all(s.isdigit() for s in v), f"--{_name} must be non-negative integers.")
for _name in ("fa_radii", "fa_real_radii"):
    flags.register_validator(
        _name, lambda v: all(s.replace(".", "", 1).isdigit() for s in v), f"--{_name} must be non-negative numbers."
    )
flags.DEFINE_enum(
    "fa_gd",
    "auto",
    ["auto", "plain", "dual"],
    "GD engine: plain (weights) or dual (pre-activations via the n x n Gram, same steps); auto: dual if n < 2d.",
)

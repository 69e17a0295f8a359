"""NTK experiments: kernel_dynamics, ntk_features, ntk_transfer (flags; docs/methods.md §B)."""

from absl import flags

# the experiments that read these flags (--help=<experiment> shows them)
READERS = ("kernel_dynamics", "ntk_features", "ntk_transfer")

flags.DEFINE_integer("ntk_batch", 64, "Size N of the fixed batch whose empirical NTK is tracked.", lower_bound=2)
flags.DEFINE_enum(
    "ntk_batch_source",
    "trained",
    ["trained", "train", "test"],
    "kernel_dynamics: the N inputs whose kernel is tracked. trained (the paper's, Sec. 5: the kernel of the "
    "batch as training sees it): the first N training inputs, in adversarial training their adversarial "
    "versions against the model of that epoch (the --attack* flags, untargeted); train: the same N clean "
    "inputs in both modes; test: the first N clean test inputs.",
)
flags.DEFINE_enum(
    "ntk_kernel_shape",
    "trace",
    ["trace", "full"],
    "kernel_dynamics: trace = the (N, N) kernel summed over the K outputs; full = the whole (N K, N K) kernel "
    "(K^2 times the memory).",
)
flags.DEFINE_integer("ntk_every", 1, "Compute the kernel every N epochs.", lower_bound=1)
flags.DEFINE_integer("ntk_top", 20, "r of the top-r eigenspace for polar dynamics (paper: 20).", lower_bound=1)
flags.DEFINE_enum("ntk_method", "auto", ["auto", "structured", "jacobian", "vp"], "Empirical-NTK implementation.")
flags.DEFINE_integer(
    "ntk_chunk",
    None,
    "Inputs per chunk of the kernel computation (default: largest within 512 MiB of work).",
    lower_bound=1,
)
flags.DEFINE_integer(
    "ntk_linearize_epoch",
    -1,
    "Train the linearization f(theta_e) + J(theta_e)(theta - theta_e) after epoch e (0 = at init, -1 = never; "
    "App. E.1); attacks are computed on it.",
    lower_bound=-1,
)
flags.DEFINE_enum(
    "ntk_kernel",
    "closed_form",
    ["closed_form", "empirical", "analytic"],
    "ntk_features: infinite-width two-layer ReLU NTK (closed form), the empirical NTK of --model at init, or "
    "the infinite-width NTK of each --ntk_arch (analytic).",
)
flags.DEFINE_list(
    "ntk_arch",
    ["fc2"],
    "ntk_features with --ntk_kernel=analytic: architectures, one kernel each in the same run: fc<L> = L x "
    "(Dense, ReLU) + Dense readout, conv<L> = L x (3x3 Conv, ReLU) + Flatten + Dense readout (NTK paper "
    "App. D.2 uses fc1..fc5, conv1, conv2; docs/methods.md §B.9).",
)
flags.DEFINE_float(
    "ntk_rank_fraction",
    0.5,
    "ntk_features: fraction of the held-out examples on which features are scored and ranked by robustness; "
    "the D.3 curve of the top-ranked features is measured on the other part (0 = rank and measure on all).",
    lower_bound=0,
    upper_bound=0.9,
)
flags.DEFINE_integer("ntk_features", 100, "ntk_features: eigen-features analysed (the top N).", lower_bound=2)
flags.DEFINE_list("ntk_widths", ["256", "2048"], "ntk_transfer: hidden widths m of the two-layer nets.")
flags.DEFINE_integer(
    "ntk_seeds", 1, "ntk_transfer: nets per width, each from its own initialisation (paper: 3).", lower_bound=1
)
flags.DEFINE_integer("ntk_steps", 600, "ntk_transfer: full-batch GD steps.", lower_bound=1)
flags.DEFINE_integer("ntk_eval_every", 150, "ntk_transfer: evaluate every N steps.", lower_bound=1)
flags.DEFINE_float("ntk_lr_scale", 0.5, "ntk_transfer: GD step eta = c / lambda_max(Theta_train).", lower_bound=0)
flags.DEFINE_enum(
    "ntk_attack", "ce", ["ce", "max_of_k", "sum_of_k"], "ntk_transfer: multiclass attack objective (Eq. 21, 33, 35)."
)
flags.DEFINE_enum(
    "ntk_binary_output",
    "scalar",
    ["scalar", "two"],
    "ntk_transfer on a two-class task: one output regressing +-1 targets, attacked through -y f (the paper's "
    "Eq. 18), or two one-hot outputs attacked with --ntk_attack.",
)
flags.DEFINE_enum(
    "ntk_inputs",
    "unit_norm",
    ["unit_norm", "pixels"],
    "ntk_transfer inputs: each image scaled to unit l2 norm, or raw [0, 1] pixels (eta = c / lambda_max adapts). "
    "--attack_eps is in [0, 1] pixels either way (on a unit-norm image x the attack uses eps / ||x||_2).",
)
flags.DEFINE_integer(
    "ntk_gradient_images",
    2,
    "ntk_transfer: held-out images whose loss gradients (NTK and each width's first net) are drawn at the "
    "first, middle and last evaluation (App. C Fig. 7b); 0 draws none.",
    lower_bound=0,
)
flags.DEFINE_integer("ntk_attack_steps", 1, "ntk_transfer: l-inf attack steps (1 = FGSM).", lower_bound=1)
flags.register_validator(
    "ntk_arch",
    lambda v: (
        len(v) > 0
        and all(a.rstrip("0123456789") in ("fc", "conv") and a[len(a.rstrip("0123456789")) :].isdigit() for a in v)
    ),
    "--ntk_arch must list fc<L> / conv<L> architectures, e.g. fc1,fc3,conv2.",
)
flags.register_validator(
    "ntk_widths",
    lambda v: len(v) > 0 and all(s.isdigit() and int(s) > 0 for s in v),
    "--ntk_widths must be integers >= 1.",
)

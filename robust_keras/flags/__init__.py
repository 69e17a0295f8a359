"""Every flag of the project, defined by concern; importing this package defines them all.

:data:`MODULES` is the one registry that ``main`` (parsing, params, flags.flags) and ``--help``
read: the shared modules first (each flag read by many experiments), then one module per
experiment family, whose ``READERS`` names the experiments that read it (``--help=<experiment>``).
"""

from robust_keras.flags import (
    adversarial_data,
    attacks,
    compute,
    data,
    evaluate,
    feature_averaging,
    models,
    ntk,
    robust_before,
    robust_datasets,
    run,
    toy_linear,
    training,
    transfer,
)

# --help shows the groups in this order
SHARED = (run, data, models, training, compute, attacks, adversarial_data, transfer)
FAMILIES = (robust_before, ntk, feature_averaging, toy_linear, robust_datasets, evaluate)
MODULES = SHARED + FAMILIES
PLACEMENT_FLAGS = run.PLACEMENT_FLAGS
NOT_IN_FLAGFILE = run.NOT_IN_FLAGFILE

assert all(getattr(m, "READERS", None) for m in FAMILIES) and not any(hasattr(m, "READERS") for m in SHARED)

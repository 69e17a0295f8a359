"""The papers' claims, each with the runs that test it and the check that reads them (one module
per paper: claims_robust_before.py, claims_ntk.py, claims_feature_averaging.py).

A claim is one statement of one paper (section / figure), the flagfile under ``flags/reproduce/``
that tests it at the largest scale a 2-core CPU affords, the seeds it runs over, and a check that
reads the finished runs and returns a :class:`Verdict`: what the paper reports, what was measured,
and whether the statement holds -- in every seed, never on average only. Checks read only what the
runs wrote (summary files, metrics.jsonl, arrays); thresholds are the paper's statement, not values
fitted to our runs, and a row that does not hold says what was measured.
"""

from __future__ import annotations

from robust_keras.reproduce import claims_feature_averaging, claims_ntk, claims_robust_before
from robust_keras.reproduce.verdict import Claim

# the order the runner runs them and the tables list them in
ORDER = (
    "rb_toy_switch",
    "fa_averaging",
    "ntk_top_features",
    "ntk_features_consistent",
    "rb_d_det_robust_features",
    "rb_pathway2_end_state",
    "ntk_kernel_rotation",
    "rb_pathways_recipe",
    "ilyas_d_r_robust",
    "rb_transfer_split",
    "ntk_attack_transfer",
    "rb_clean_pathways",
    "rb_performance_correlation",
    "rb_cross_dataset",
    "rb_cross_dataset_reverse",
    "fa_real_finer_labels",
)
BY_NAME: dict[str, Claim] = {
    c.name: c for module in (claims_robust_before, claims_ntk, claims_feature_averaging) for c in module.CLAIMS
}
CLAIMS: tuple[Claim, ...] = tuple(BY_NAME[name] for name in ORDER)

"""Toy linear model of robust-before-non-robust (Sec. 5, Theorems 1-2, App. A; docs/methods.md §A.7).

For every k of ``--toy_k`` and ``--toy_seeds`` training sets: gradient descent from w_0 = 0 on
the squared loss, population accuracy on ``--toy_test_samples`` fresh points, training
accuracy, the first step (Theorem 1) and agreement with the closed-form min-norm interpolant.
Beside it, the derived threshold k_t and step-size bound (analysis/toy_linear_theory.py).

Outputs: one child run per k (params ``k``; metrics ``population_accuracy``...), the sweep table
``toy_linear.csv`` / ``.md``, ``plots/toy_accuracy_vs_k.png`` and
``plots/toy_weights_over_steps.png`` (w1 and eps * w2 over GD steps, one k below and one above k_t).
"""

from __future__ import annotations

import csv
import dataclasses

import numpy as np

from robust_keras.analysis import paper_figures
from robust_keras.analysis import toy_linear_theory as theory
from robust_keras.atomic_files import atomic_open, write_json
from robust_keras.config import Config
from robust_keras.data import toy_linear
from robust_keras.errors import ConfigError
from robust_keras.seeds import derive_seed
from robust_keras.tracking.mirror import Run
from robust_keras.training.toy_linear_gd import gradient_descent, min_norm_interpolant

_CLOSED_FORM_MAX_N = 4000  # dense lstsq of (n, n + 2): fine up to a few thousand points


@dataclasses.dataclass(frozen=True)
class ToyLinearSettings:
    """The ``--toy_*`` flags (flags/toy_linear.py) and the run's seed, read once."""

    n: int  # training points
    d: int  # input dimension
    p: float  # the robust coordinate is wrong with probability p
    ks: tuple[float, ...]  # the sweep of k, sorted: the non-robust coordinate is wrong with probability p/k
    eps: float  # size of the non-robust coordinate
    lr: float  # GD step eta
    steps: int  # GD steps
    seeds: int  # training sets per k
    test_samples: int  # fresh points per population accuracy
    seed: int  # --seed

    @classmethod
    def of(cls, config: Config) -> ToyLinearSettings:
        return cls(
            n=config.toy_n,
            d=config.toy_d,
            p=config.toy_p,
            ks=tuple(sorted(float(k) for k in config.toy_k)),
            eps=config.toy_eps,
            lr=config.toy_lr,
            steps=config.toy_steps,
            seeds=config.toy_seeds,
            test_samples=config.toy_test_samples,
            seed=config.seed,
        )


def expected_collisions(n: int, d: int) -> float:
    """Expected number of pairs of the n training points whose noise coordinates q ~ U{3..d} coincide:
    C(n, 2) / (d - 2). Theorem 2 describes the regime where it is small (n^2 << d)."""
    return n * (n - 1) / 2.0 / max(d - 2, 1)


def run(config: Config, run: Run) -> dict:
    toy = ToyLinearSettings.of(config)
    n, p, eps, eta = toy.n, toy.p, toy.eps, toy.lr
    ks = list(toy.ks)
    bound = min(theory.eta_bound(n, p, k, eps) for k in ks)
    if eta >= bound:
        raise ConfigError(
            f"--toy_lr={eta} is at or above the GD stability bound {bound:.4f}", "pass a smaller --toy_lr"
        )
    collisions = expected_collisions(n, toy.d)
    if collisions >= 1.0:
        raise ConfigError(
            f"--toy_n={n} points in --toy_d={toy.d} dimensions share a noise coordinate {collisions:.2g} times "
            "on average, so the interpolant is pinned by the collisions and Theorem 2 does not apply",
            "raise --toy_d (the paper's regime is n^2 / d small) or lower --toy_n",
        )
    if collisions >= 0.05:
        print(
            f"[toy] warning: expected noise-coordinate collisions n(n-1)/(2(d-2)) = {collisions:.3f}: some training "
            "sets will have points sharing a noise coordinate, where Theorem 2's interpolant does not apply",
            flush=True,
        )
    k_t = theory.k_threshold(n, p, eps)
    print(f"[toy] n={n} d={toy.d} p={p} eps={eps}: n*eps^2 = {n * eps**2:.3f}")
    print(f"[toy] derived k_t = {k_t:.3f} (population accuracy 1-p below it, 1-p/k above); GD needs eta < {bound:.4f}")
    run.log_metrics(
        {
            "theory/k_t": k_t if np.isfinite(k_t) else -1.0,
            "theory/eta_bound": bound,
            "theory/expected_collisions": collisions,
        }
    )
    record = np.unique(np.geomspace(1, toy.steps, 60).astype(int))
    rows, trajectories, per_seed = [], {}, {}
    for i, k in enumerate(ks):
        row, trajectories[k], per_seed[k] = _one_k(toy, k, record, seed=derive_seed(toy.seed, f"toy-{k}"))
        rows.append(row)
        child = run.child(f"k={k:g}")
        child.log_params({"k": k, "p": p, "eps": eps, "n": n})
        child.log_metrics({name: value for name, value in row.items() if name != "k"})
        child.set_tags({"regime": "non-robust" if row["theory_nonrobust"] else "robust"})
        child.finish()
        run.log_metrics({f"sweep/{name}": row[name] for name in ("population_accuracy", "theory_accuracy")}, step=i)
        print(
            f"[toy] k={k:g}: population accuracy {row['population_accuracy']:.4f}"
            f" +- {row['population_accuracy_std']:.4f} (theory {row['theory_accuracy']:.4f};"
            f" 1-p = {1 - p:.4f}, 1-p/k = {1 - p / k:.4f}),"
            f" after step 1 {row['step1_accuracy']:.4f}; solutions on the non-robust coordinate"
            f" {row['nonrobust_fraction']:.0%}"
        )
    _write_table(run, rows)
    _plot(run, toy, rows, per_seed, trajectories, k_t)
    summary = {"n": n, "p": p, "eps": eps, "k_t": k_t, "eta_bound": bound, "sweep": rows}
    write_json(run.path("summary.json"), summary)
    run.log_artifact(run.path("summary.json"))
    return summary


def _one_k(toy: ToyLinearSettings, k: float, record: np.ndarray, seed: int) -> tuple[dict, dict, list[float]]:
    """Sweep entry for one k (means over seeds), the first seed's (w1, w2) trajectory and the
    population accuracy of every seed."""
    n, p, eps = toy.n, toy.p, toy.eps
    rng = np.random.default_rng(seed)
    stats: dict[str, list[float]] = {}
    trajectory = {}
    for _ in range(toy.seeds):
        train = toy_linear.sample(n, d=toy.d, p=p, k=k, eps=eps, rng=rng)
        test = toy_linear.sample(toy.test_samples, d=toy.d, p=p, k=k, eps=eps, rng=rng)
        first, _ = gradient_descent(train, eta=toy.lr, steps=1)
        final, traj = gradient_descent(train, eta=toy.lr, steps=toy.steps, record_at=record)
        trajectory = trajectory or traj
        values = {
            "population_accuracy": final.accuracy(test),
            "train_accuracy": final.accuracy(train),
            "step1_accuracy": first.accuracy(test),
            "step1_robust_dominates": float(first.w1 >= eps * first.w2),
            "nonrobust_fraction": float(eps * final.w2 > final.w1),  # this seed's solution follows x_2
            "w1": final.w1,
            "eps_w2": eps * final.w2,
        }
        if n <= _CLOSED_FORM_MAX_N:
            limit = min_norm_interpolant(train)
            values["gd_vs_interpolant"] = abs(final.w1 - limit.w1) + abs(final.w2 - limit.w2)
        for name, value in values.items():
            stats.setdefault(name, []).append(value)
    wins = theory.nonrobust_wins(n, p, k, eps)
    row = {"k": k, **{name: float(np.mean(v)) for name, v in stats.items()}}
    row["population_accuracy_std"] = float(np.std(stats["population_accuracy"]))
    row["theory_accuracy"] = theory.population_accuracy(p, k, wins)
    row["theory_nonrobust"] = float(wins)
    row["theorem1_exact"] = float(theory.first_step_robust(p, k, eps))
    row["theorem1_paper_bound"] = theory.first_step_paper_bound(p, k)
    return row, trajectory, stats["population_accuracy"]


# What each column of toy_linear.csv / .md holds (per k; "mean" = over the --toy_seeds training sets).
COLUMNS = {
    "k": "the non-robust coordinate x_2 is wrong with probability p/k",
    "population_accuracy": "mean test accuracy of the GD solution after --toy_steps steps",
    "train_accuracy": "mean training accuracy of that solution",
    "step1_accuracy": "mean test accuracy after the first GD step from 0",
    "step1_robust_dominates": "share of training sets whose first step weighs x_1 at least as x_2 (w1 >= eps w2)",
    "nonrobust_fraction": "share of training sets whose final solution follows x_2 (eps w2 > w1)",
    "w1": "mean final weight on the robust coordinate x_1",
    "eps_w2": "mean final eps * w2: the non-robust coordinate's weight on the score",
    "gd_vs_interpolant": "mean |w - w_min-norm| (l1 over both weights): GD against the min-norm interpolant "
    "(only for n small enough to solve it)",
    "population_accuracy_std": "spread (std) of population_accuracy over the training sets",
    "theory_accuracy": "the theory's population accuracy: 1 - p/k if the expected interpolant follows x_2, else 1 - p",
    "theory_nonrobust": "1 if the theory says the expected min-norm interpolant follows x_2 (Q(v) > 0), else 0",
    "theorem1_exact": "1 if Theorem 1's exact condition eps^2 <= u/v holds (the first step is robust), else 0",
    "theorem1_paper_bound": "the paper's sufficient bound u/v = (1 - 2p) / (1 - 2p/k) that eps^2 must not exceed",
}


def _write_table(run: Run, rows: list[dict]) -> None:
    columns = list(rows[0])
    with atomic_open(run.path("toy_linear.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(f"{r[c]:.4g}" for c in columns) + " |" for r in rows]
    lines += ["", "Columns:", ""] + [f"- `{c}`: {COLUMNS[c]}" for c in columns]
    with atomic_open(run.path("toy_linear.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    run.log_artifact(run.path("toy_linear.csv"))
    run.log_artifact(run.path("toy_linear.md"))


def _plot(run: Run, toy: ToyLinearSettings, rows, per_seed, trajectories, k_t: float) -> None:
    p, ks = toy.p, list(toy.ks)
    fine = np.geomspace(min(ks), max(ks), 100)
    png = paper_figures.toy_accuracy_vs_k(
        run.path("plots", "toy_accuracy_vs_k.png"),
        ks=ks,
        accuracy=[r["population_accuracy"] for r in rows],
        per_seed=per_seed,
        fine_k=fine,
        robust_level=1 - p,
        nonrobust_level=1 - p / fine,
        k_t=k_t,
        title=f"Toy linear model: n={toy.n}, p={p}, eps={toy.eps}, {toy.seeds} seeds",
    )
    run.log_artifact(png, "plots")
    below = [k for k in ks if k < k_t]
    above = [k for k in ks if k > k_t]
    shown = {f"k={k:g}": trajectories[k] for k in (below[:1] + above[-1:])}
    png = paper_figures.toy_weights(
        run.path("plots", "toy_weights_over_steps.png"),
        shown,
        eps=toy.eps,
        title=f"GD on the toy model (eta={toy.lr}): robust w1 vs non-robust eps*w2",
    )
    run.log_artifact(png, "plots")

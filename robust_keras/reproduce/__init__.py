"""``python -m robust_keras.reproduce``: every paper claim run, checked and tabulated.

For each claim of :data:`claims.CLAIMS` (``--only=NAME,...``, or ``--quick`` for those that hold
at CPU scale in minutes) the runner runs its flagfile (``flags/reproduce/``) once per seed with
``python -m robust_keras.main`` into ``<output_dir>/runs/<flagfile>/seed<s>/`` -- as a user would, so
every run is an ordinary run directory with its own MLflow run, and claims read from the same
flagfile share its runs -- then applies the claim's check and writes
``<output_dir>/<claim>/verdict.json``, the claim's figure (``<output_dir>/figures/``) and an
MLflow run per claim (experiment ``robust_keras/reproduce``: params say the claim, metrics what was
measured, tag ``holds``). ``reproduce.md`` collects one row per claim: claim -> the paper's words ->
the paper's value and our threshold -> measured per seed -> mean (min-max) of each per-seed number
across seeds -> departures from the paper's setting -> holds / does not hold.

``--seeds=3,4,5`` runs every seeded claim at those seeds instead of its own (verdicts in
``<output_dir>/<claim>-seeds3-4-5/``).

Resumable: a claim with a verdict is not rerun (delete its directory to redo it); a run that
finished (``<run>.done``) is not started again, an interrupted one resumes where it stopped (main's
own resume). Exit status 1 when a claim marked quick does not
hold (CI runs ``--quick``), else 0: a claim documented not to hold at CPU scale is reported, not
failed on.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time

from robust_keras.atomic_files import write_json, write_text
from robust_keras.reproduce.claims import CLAIMS
from robust_keras.reproduce.verdict import Claim, Verdict, across_seeds

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FLAGS_DIR = os.path.join(ROOT, "flags", "reproduce")


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m robust_keras.reproduce", description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="", help="comma-separated claim names (default: all)")
    parser.add_argument("--quick", action="store_true", help="only the claims that hold at CPU scale in minutes")
    parser.add_argument("--output_dir", default=os.path.join("artifacts", "reproduce"))
    parser.add_argument("--mlflow_tracking_uri", default="", help="default: sqlite:///<output_dir>/mlflow.db")
    parser.add_argument(
        "--seeds",
        default="",
        help="comma-separated seeds that replace every seeded claim's own (e.g. 3,4,5); claims without "
        "randomness still run once",
    )
    parser.add_argument("--list", action="store_true", help="print the claims and exit")
    return parser.parse_args(argv)


def _selected(args: argparse.Namespace) -> list[Claim]:
    names = [n for n in args.only.split(",") if n]
    unknown = sorted(set(names) - {c.name for c in CLAIMS})
    if unknown:
        print(f"error: unknown claim(s) {unknown} -- pick from {[c.name for c in CLAIMS]}", file=sys.stderr)
        sys.exit(2)
    try:
        seeds = tuple(int(s) for s in args.seeds.split(",") if s.strip())
    except ValueError:
        print(f"error: --seeds={args.seeds} is not a list of integers -- pass e.g. --seeds=0,1,2", file=sys.stderr)
        sys.exit(2)
    chosen = [c for c in CLAIMS if (not names or c.name in names) and (c.quick or not args.quick)]
    return [dataclasses.replace(c, seeds=seeds) if seeds and c.seeds is not None else c for c in chosen]


def _claim_dir(out: str, claim: Claim) -> str:
    """Where a claim's verdict, figure run and MLflow run live: ``<out>/<claim>`` at its own seeds,
    ``<out>/<claim>-seeds3-4-5`` at seeds given by --seeds (each seed set its own verdict)."""
    own = next(c.seeds for c in CLAIMS if c.name == claim.name)
    if claim.seeds == own:
        return os.path.join(out, claim.name)
    return os.path.join(out, f"{claim.name}-seeds{'-'.join(map(str, claim.seeds or ()))}")


def _run_dir(out: str, claim: Claim, seed: int | None) -> str:
    """Where the run of ``claim``'s flagfile with ``seed`` lives (shared by claims of one flagfile)."""
    return os.path.join(out, "runs", claim.flagfile.removesuffix(".flags"), "run" if seed is None else f"seed{seed}")


def _run_seed(claim: Claim, seed: int | None, run_dir: str, uri: str) -> None:
    """One run of the claim's flagfile, as a user would start it (re-running resumes it); nothing
    to do if it finished earlier, for this claim or another of the same flagfile."""
    done = run_dir.rstrip("/") + ".done"
    if os.path.exists(done):
        return
    cmd = [sys.executable, "-m", "robust_keras.main", f"--flagfile={os.path.join(FLAGS_DIR, claim.flagfile)}"]
    cmd += [f"--seed={seed}"] if seed is not None else []
    cmd += [
        f"--output_dir={run_dir}",
        f"--mlflow_tracking_uri={uri}",
        f"--mlflow_experiment=robust_keras/reproduce/{claim.name}",
    ]
    log_path = run_dir.rstrip("/") + ".log"
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    with open(log_path, "w") as log:
        proc = subprocess.run(
            cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": ROOT}
        )
    if proc.returncode != 0:
        with open(log_path) as f:
            last = [ln for ln in f.read().splitlines() if ln.strip()][-1:] or [""]
        raise RuntimeError(f"{claim.name}: the run in {run_dir} failed ({last[0][:300]}); its log: {log_path}")
    write_text(done, time.strftime("%Y-%m-%d %H:%M:%S\n"))


def _record(claim: Claim, verdict: Verdict, claim_dir: str, runs: list[str], uri: str, out: str) -> dict:
    """verdict.json, the claim's figure and its MLflow run."""
    from robust_keras.tracking.runs import open_run

    figure = os.path.join(runs[0], claim.figure)
    shown = os.path.join(out, "figures", f"{os.path.basename(claim_dir)}.png")
    if os.path.exists(figure):
        os.makedirs(os.path.dirname(shown), exist_ok=True)
        shutil.copyfile(figure, shown)
    record = {
        "claim": claim.name,
        "paper": claim.paper,
        "statement": claim.statement,
        "quote": claim.quote,
        "departures": claim.departures,
        "seeds": list(claim.seeds or ()),
        **dataclasses.asdict(verdict),
        "across_seeds": across_seeds(verdict.metrics),
        "runs": runs,
        "figure": shown if os.path.exists(shown) else None,
        "date": time.strftime("%Y-%m-%d"),
    }
    run = open_run(claim_dir, uri, "robust_keras/reproduce", claim.name, {"claim": claim.name})
    run.log_params({"paper": claim.paper, "statement": claim.statement, "flagfile": claim.flagfile})
    run.log_params({"quote": claim.quote[:5000], "departures": claim.departures[:5000]})
    run.log_params({"seeds": ",".join(map(str, claim.seeds or ())), "paper_value": verdict.paper_value})
    run.log_metrics({**verdict.metrics, "holds": float(verdict.holds)})
    run.set_tags({"holds": str(verdict.holds).lower(), "measured": verdict.measured[:5000]})
    if record["figure"]:
        run.log_artifact(shown, "plots")
    write_json(os.path.join(claim_dir, "verdict.json"), record)
    run.log_artifact(os.path.join(claim_dir, "verdict.json"))
    run.finish()
    return record


def _table(records: list[dict]) -> str:
    lines = [
        "| claim | paper | the paper's words | the paper says / our threshold | measured | across seeds: mean "
        "(min-max) | departures from the paper's setting | holds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        spread = "; ".join(
            f"{name} {s['mean']:.3g} ({s['min']:.3g}-{s['max']:.3g})" for name, s in r.get("across_seeds", {}).items()
        )
        lines.append(
            f'| `{r["claim"]}`: {r["statement"]} | {r["paper"]} | "{r.get("quote", "")}" | {r["paper_value"]} | '
            f"{r['measured']} | {spread or '(one run)'} | {r.get('departures', '')} | "
            f"{'holds' if r['holds'] else '**does not hold**'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    if args.list:
        for c in CLAIMS:
            print(f"{c.name:28s} {'quick' if c.quick else '     '} ~{c.minutes:g} min  {c.paper}: {c.statement}")
        return 0
    claims = _selected(args)
    out = os.path.abspath(args.output_dir)
    uri = args.mlflow_tracking_uri or f"sqlite:///{out}/mlflow.db"
    os.makedirs(out, exist_ok=True)
    todo = [c for c in claims if not os.path.exists(os.path.join(_claim_dir(out, c), "verdict.json"))]
    to_run = [c for c in todo if not all(os.path.exists(_run_dir(out, c, s) + ".done") for s in c.seeds or (None,))]
    planned = sum(c.minutes for c in to_run)  # claims whose runs all finished earlier only need their check
    print(f"[reproduce] {len(claims)} claims, {len(claims) - len(todo)} already checked; ~{planned:.0f} min of runs")
    start, done_minutes = time.time(), 0.0
    for i, claim in enumerate(todo, 1):
        elapsed = (time.time() - start) / 60
        rate = elapsed / done_minutes if done_minutes else 1.0  # this machine's pace against the estimates
        eta = (planned - done_minutes) * rate
        print(
            f"[reproduce] {i}/{len(todo)} {claim.name} ({claim.paper}): running, ETA of the rest {eta:.1f} min",
            flush=True,
        )
        claim_dir = _claim_dir(out, claim)
        runs = []
        for seed in claim.seeds or (None,):
            run_dir = _run_dir(out, claim, seed)
            _run_seed(claim, seed, run_dir, uri)
            runs.append(run_dir)
        record = _record(claim, claim.check(runs), claim_dir, runs, uri, out)
        done_minutes += claim.minutes if claim in to_run else 0.0
        print(
            f"[reproduce] {claim.name}: {'holds' if record['holds'] else 'DOES NOT HOLD'} -- {record['measured']}",
            flush=True,
        )
    records = []
    for claim in claims:
        with open(os.path.join(_claim_dir(out, claim), "verdict.json")) as f:
            records.append(json.load(f))
    table = _table(records)
    header = (
        f"# Reproduction, {time.strftime('%Y-%m-%d')}\n\nClaims checked by `python -m robust_keras.reproduce` on "
        f"{os.cpu_count()} CPU cores; runs under `{out}`, MLflow at `{uri}`.\n\n"
    )
    write_text(os.path.join(out, "reproduce.md"), header + table + "\n")
    print(table)
    failed = [r["claim"] for r, c in zip(records, claims, strict=True) if c.quick and not r["holds"]]
    if failed:
        print(f"error: quick claims that do not hold: {failed} -- see {out}/reproduce.md", file=sys.stderr)
        return 1
    return 0

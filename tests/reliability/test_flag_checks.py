"""Flags refused before any work, in one short line: a misspelt experiment before TensorFlow is
imported, an untargeted attack where D_det is built, an l2 norm for the l-inf-only NTK attacks, a
pasted 5,000-character value, a step size that never moves, and --only_check_flags running the
run's own checks without creating anything."""

import time

from conftest import last_line, run_main

QUICKSTART = "--flagfile=flags/quickstart.flags"


def _refused(proc, *needles):
    line = last_line(proc.stderr)
    assert proc.returncode == 2 and line.startswith("error: ") and " -- " in line, proc.stderr[-2000:]
    assert len(line) < 400 and all(n in line for n in needles), line
    return line


def test_a_misspelt_experiment_and_an_untargeted_d_det_are_refused_before_the_imports():
    start = time.time()
    _refused(run_main("--experiment=d_dett"), "d_dett", "d_det")
    for flagfile in ("pathways_mnist_tiny", "transfer_split_mnist_tiny"):
        _refused(run_main(f"--flagfile=flags/{flagfile}.flags", "--attack_target=none"), "--attack_target=none")
    # the NTK experiments attack in l-inf only: their params must not record another norm
    _refused(run_main("--flagfile=flags/ntk_transfer_mnist_tiny.flags", "--attack_norm=l2"), "--attack_norm=linf")
    assert time.time() - start < 20  # four processes that never import TensorFlow (~8 s each if they did)


def test_a_pasted_5000_character_value_gives_a_short_line():
    _refused(run_main(QUICKSTART, "--epochs=" + "9" * 5000), "--epochs=999", "chars)")
    _refused(run_main("--experiment=" + "x" * 5000), "(5000 chars)")


def test_a_zero_toy_step_size_is_refused():
    _refused(run_main("--flagfile=flags/toy_linear_tiny.flags", "--toy_lr=0"), "--toy_lr must be > 0")


def test_only_check_flags_runs_the_checks_of_a_run_and_creates_nothing(tmp_path):
    _refused(run_main("--only_check_flags", QUICKSTART, "--epochs=abc"), "--epochs=abc")
    _refused(
        run_main("--only_check_flags", "--flagfile=flags/pathways_mnist_tiny.flags", "--attack_target=none"),
        "needs a targeted attack",
    )
    out = tmp_path / "run"
    ok = run_main(QUICKSTART, "--only_check_args", f"--output_dir={out}", f"--mlflow_tracking_uri=sqlite:///{out}/m.db")
    assert ok.returncode == 0 and "the flags are valid for --experiment=d_det" in ok.stdout, ok.stderr[-2000:]
    assert not out.exists()

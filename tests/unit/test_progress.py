"""Stage plans: the overall ETA is the remaining estimated work at the measured rate."""

from robust_keras import progress


def test_stage_plan_reports_share_done_and_eta_from_the_measured_rate(monkeypatch):
    clock = iter([0.0, 10.0, 10.0, 40.0, 40.0, 41.0])  # stage 1: 10 s, stage 2: 30 s, stage 3: 1 s
    monkeypatch.setattr(progress.time, "time", lambda: next(clock))
    lines = []
    plan = progress.StagePlan(
        [("train", progress.training_passes(2, 100, 50)), ("attack", progress.attack_passes(100, 3)), ("more", 500.0)],
        log=lines.append,
    )
    assert lines[0] == "[stages] 3 stages, share of the estimated work: train (39%), attack (33%), more (28%)"
    with plan.stage("train"):  # 700 passes in 10 s; 1,100 left -> 16 s
        pass
    assert lines[-1] == "[stage 1/3] train finished in 10s; 39% of the work done, ETA of the rest ~16s"
    with plan.stage("attack"):
        pass
    assert lines[-1].endswith("72% of the work done, ETA of the rest ~15s")  # 500 passes at 40 s / 1,300
    with plan.stage("more"):
        pass
    assert lines[-1] == "[stage 3/3] more finished in 1s"


def test_stages_a_resumed_run_does_not_enter_cost_nothing(monkeypatch):
    clock = iter([0.0, 5.0])
    monkeypatch.setattr(progress.time, "time", lambda: next(clock))
    lines = []
    plan = progress.StagePlan([("source", 900.0), ("generation", 100.0), ("n2", 100.0)], log=lines.append)
    with plan.stage("generation"):  # the source was kept from an earlier attempt
        pass
    assert plan.state["source"] == "skipped"
    assert lines[-1] == "[stage 2/3] generation finished in 5s; 50% of the work done, ETA of the rest ~5s"


def test_loop_meter_rates_only_this_attempts_work(monkeypatch):
    clock = iter([0.0, 4.0, 200.0])
    monkeypatch.setattr(progress.time, "time", lambda: next(clock))
    meter = progress.LoopMeter()  # starts at t = 0
    assert meter.outlook(100) == "kept from earlier attempts"  # nothing done here yet: no rate to give
    meter.add(50)
    assert meter.outlook(100) == "12.5 ex/s, ETA 8s"  # 50 in 4 s
    radii = progress.LoopMeter("radius")  # starts at t = 200
    monkeypatch.setattr(progress.time, "time", lambda: 260.0)
    radii.add(1)
    assert radii.outlook(3) == "60.0 s/radius, ETA 3 min"

"""RB Table 5 from finished runs: pathway-1 models with their robust and non-robust accuracy."""

import json

from robust_keras import pathway_table


def _pathways_run(path):
    path.mkdir()
    (path / "flags.flags").write_text("--experiment=pathways\n--dataset=cifar10\n--model=resnet18\n--noaugment\n")
    (path / "grid.csv").write_text(
        "cell,name,learning_rate,weight_decay,augment,seed,clean_accuracy,shift_accuracy,score,pathway\n"
        "0,000-a,0.01,0.0,False,0,0.12,0.70,0.03,2\n"
        "1,001-b,0.1,0.0005,False,0,0.55,0.40,0.6,1\n"
        "2,002-c,0.1,0.0005,True,0,0.30,0.45,0.45,1\n"
    )
    return str(path)


def _d_det_run(path, summary):
    path.mkdir()
    (path / "flags.flags").write_text("--experiment=d_det\n--dataset=mnist\n--learning_rate=0.1\n--weight_decay=0\n")
    (path / "summary.json").write_text(json.dumps(summary))
    return str(path)


def test_table_lists_pathway_one_models_and_which_accuracy_is_higher(tmp_path, capsys):
    grid = _pathways_run(tmp_path / "grid")
    d_det = _d_det_run(tmp_path / "d_det", {"pathway": "1", "clean/accuracy": 0.2, "shift/accuracy": 0.5})
    assert pathway_table.main([grid, d_det, f"--output={tmp_path / 'table5.md'}"]) == 0
    table = (tmp_path / "table5.md").read_text()
    assert "000-a" not in table  # pathway 2: not a Table 5 row
    assert "| grid/001-b | cifar10 | resnet18 | 0.1 | 0.0005 | no | 1 | 0.550 | 0.400 | non-robust |" in table
    assert "| grid/002-c | cifar10 | resnet18 | 0.1 | 0.0005 | yes | 1 | 0.300 | 0.450 | robust |" in table
    assert "| d_det | mnist | ? | 0.1 | 0 | no | 1 | 0.200 | 0.500 | robust |" in table
    assert "3 of 4 models followed pathway 1" in capsys.readouterr().err
    assert pathway_table.main([grid, "--all"]) == 0 and "000-a" in capsys.readouterr().out


def test_a_run_without_pathways_fails_with_one_line(tmp_path, capsys):
    old = _d_det_run(tmp_path / "old", {"clean/accuracy": 0.2, "shift/accuracy": 0.5})
    assert pathway_table.main([old]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no pathway label" in err[0]
    (tmp_path / "toy").mkdir()
    (tmp_path / "toy" / "flags.flags").write_text("--experiment=toy_linear\n")
    assert pathway_table.main([str(tmp_path / "toy")]) == 1
    assert "'toy_linear' run has no pathway" in capsys.readouterr().err

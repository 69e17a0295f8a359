"""The one atomic-write helper: a reader sees the old file or the whole new one; failures and
killed writers leave nothing behind that a later run mistakes for output."""

import os

import pytest

from robust_keras.atomic_files import atomic_open, publish_once, remove_stale_tmp, replaced_by, write_json


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "summary.json"
    write_json(str(path), {"a": 1})
    with pytest.raises(RuntimeError), atomic_open(str(path)) as f:
        f.write('{"a": 2')
        raise RuntimeError("disk full")
    assert path.read_text() == '{\n  "a": 1\n}' and os.listdir(tmp_path) == ["summary.json"]


def test_a_directory_replaces_the_old_one_whole_or_not_at_all(tmp_path):
    target = tmp_path / "models" / "source"
    target.mkdir(parents=True)
    (target / "old.pb").write_text("old")
    with replaced_by(str(target)) as tmp:
        os.makedirs(tmp)
        (tmp_path / "models" / os.path.basename(tmp) / "saved_model.pb").write_text("new")
    assert os.listdir(target) == ["saved_model.pb"]
    with pytest.raises(OSError), replaced_by(str(target)) as tmp:
        os.makedirs(tmp)
        raise OSError("No space left on device")
    assert os.listdir(tmp_path / "models") == ["source"] and os.listdir(target) == ["saved_model.pb"]


def test_publish_once_lets_only_the_first_writer_win(tmp_path):
    path = tmp_path / "mlflow_run_id"
    assert publish_once(str(path), "first") and not publish_once(str(path), "second")
    assert path.read_text() == "first" and os.listdir(tmp_path) == ["mlflow_run_id"]


def test_leftovers_of_killed_writers_are_removed_but_not_those_of_live_ones(tmp_path):
    with open("/proc/sys/kernel/pid_max") as f:
        gone = int(f.read()) + 1  # above the kernel's largest pid: no process has it
    (tmp_path / f"shard.{gone}.tmp").write_text("half")
    (tmp_path / f"model.{gone}.tmp").mkdir()
    (tmp_path / f"live.{os.getpid()}.tmp").write_text("being written")
    removed = remove_stale_tmp(str(tmp_path))
    assert sorted(os.path.basename(p) for p in removed) == sorted([f"shard.{gone}.tmp", f"model.{gone}.tmp"])
    assert os.listdir(tmp_path) == [f"live.{os.getpid()}.tmp"]

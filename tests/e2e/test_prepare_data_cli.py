"""``--experiment=prepare_data`` as the README documents it: CINIC-10 unpacked from a copied
archive by the CLI (the code path in process: tests/unit/test_prepare_data.py)."""

import os

from conftest import run_main
from fake_cinic10 import write_cinic_archive

from robust_keras.data import sources


def test_cinic10_unpacked_from_a_copied_archive_by_the_documented_command(tmp_path):
    write_cinic_archive(tmp_path / "CINIC-10.tar.gz", nested=True)
    target = tmp_path / "data" / "cinic10"
    proc = run_main(
        "--experiment=prepare_data",
        "--dataset=cinic10",
        f"--cinic10_dir={target}",
        f"--prepare_from={tmp_path / 'CINIC-10.tar.gz'}",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "train 20, valid 20, test 20 images of 10 classes" in proc.stdout
    train, test = sources.load_dataset("cinic10", cinic10_dir=str(target))
    assert train.images.shape == (20, 32, 32, 3) and len(test) == 20 and train.class_names[0] == "airplane"
    assert sorted(os.listdir(target.parent)) == ["cinic10"]  # nothing half-unpacked beside it

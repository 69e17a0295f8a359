"""CIFAR-10 prepared offline from a copied archive: a tiny fake ``cifar-10-binary.tar.gz`` in the
real format goes through the documented command's code path (tfds' manual-download route,
checksum checked against the registry the test points at the fake archive)."""

import os

import pytest
import tensorflow_datasets as tfds
from fake_cifar10 import fake_archive, registry_for
from fake_cinic10 import write_cinic_archive

from robust_keras.data import prepare, sources
from robust_keras.errors import DataError


def test_cifar10_prepared_from_a_copied_archive(tmp_path, monkeypatch):
    copied = tmp_path / "copied" / "renamed_by_tfds.tar.gz"  # any name: found by size + sha256
    copied.parent.mkdir()
    fake_archive(tmp_path / "cifar-10-binary.tar.gz")
    os.replace(tmp_path / "cifar-10-binary.tar.gz", copied)
    monkeypatch.setattr(tfds.image_classification.Cifar10, "url_infos", registry_for(copied))
    data_dir = tmp_path / "tfds"
    prepare.prepare("cifar10", str(data_dir), str(copied.parent), log=lambda _: None)
    assert (data_dir / "downloads" / "manual" / "cifar-10-binary.tar.gz").exists()
    train, test = sources.load_dataset("cifar10", data_dir=str(data_dir), download=False)
    assert train.images.shape == (15, 32, 32, 3) and len(test) == 3
    assert sorted(train.ids)[:2] == ["train_00000", "train_00001"] and train.class_names[0] == "airplane"


def test_missing_archive_names_what_to_copy(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="lacks cifar-10-binary.tar.gz"):
        prepare.prepare("cifar10", str(tmp_path / "tfds"), str(tmp_path / "empty"), log=lambda _: None)


@pytest.mark.parametrize("nested", [False, True])
def test_cinic10_unpacked_from_a_copied_archive(tmp_path, nested):
    write_cinic_archive(tmp_path / "CINIC-10.tar.gz", nested)
    target = tmp_path / "data" / "cinic10"
    root = prepare.prepare_cinic10(str(tmp_path / "CINIC-10.tar.gz"), str(target), log=lambda _: None)
    train, test = sources.load_dataset("cinic10", cinic10_dir=root)
    assert train.images.shape == (20, 32, 32, 3) and len(test) == 20 and train.class_names[0] == "airplane"
    assert sorted(os.listdir(target.parent)) == ["cinic10"]  # nothing half-unpacked beside it


def test_cinic10_archive_without_its_layout_is_refused_and_leaves_nothing(tmp_path):
    import tarfile

    (tmp_path / "stray.txt").write_text("not CINIC-10")
    with tarfile.open(tmp_path / "other.tar.gz", "w:gz") as archive:
        archive.add(tmp_path / "stray.txt", arcname="stray.txt")
    with pytest.raises(DataError, match="no train/, valid/ and test/ folders"):
        prepare.prepare_cinic10(str(tmp_path / "other.tar.gz"), str(tmp_path / "cinic10"), log=lambda _: None)
    assert not (tmp_path / "cinic10").exists() and sorted(os.listdir(tmp_path)) == ["other.tar.gz", "stray.txt"]

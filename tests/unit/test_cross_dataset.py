"""Cross-dataset transfer (Table 2) on a CINIC-10 fixture folder and CIFAR-10 from tfds mock
data: the exclusions (CIFAR-minus-Flickr list, CINIC-10's CIFAR images); the table end to end is in
tests/e2e/test_cross_dataset_run.py."""

import pytest
import tensorflow_datasets as tfds
from conftest import parse_project_flags

from robust_keras.config import Config
from robust_keras.errors import DataError
from robust_keras.workflows import clean_data

MOCK_EXAMPLES = 40


def test_exclusion_ids_that_match_nothing_are_refused(tmp_path):
    (tmp_path / "bad.txt").write_text("# CIFAR-10 ids\nnot_an_id\n")
    values = parse_project_flags(
        "--flagfile=flags/cross_dataset_cinic10_tiny.flags",
        "--dataset=cifar10",
        f"--exclude_index_file={tmp_path / 'bad.txt'}",
    )
    with tfds.testing.mock_data(num_examples=MOCK_EXAMPLES), pytest.raises(DataError, match="match no example") as err:
        clean_data.load_clean(Config({**values, "tfds_download": False}).data_settings)
    assert "\n" not in str(err.value) and "train_00042" in str(err.value)

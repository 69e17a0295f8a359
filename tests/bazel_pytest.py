"""Runs pytest on the test files given as arguments (the main of the Bazel py_test targets)."""

import os
import sys

import pytest

if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", *[os.path.join(here, a) for a in sys.argv[1:]]]))

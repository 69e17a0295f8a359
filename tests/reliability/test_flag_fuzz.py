"""Property-based fuzz of flags against main's checks (hypothesis): every input ends either in a
Config or in one ``error:`` line with exit code 2 -- never a traceback -- and clearly invalid
values (garbage for numbers, NaN / inf, below a bound, unknown choices, bad booleans) never
pass."""

import contextlib
import io
import math

from absl import flags
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from robust_keras import main as main_module

FLAGS = flags.FLAGS
PROJECT = {f.name: f for f in main_module.project_flags()}
SKIP = {"output_dir", "dataset_dir", "mlflow_tracking_uri", "data_dir", "cinic10_dir", "exclude_index_file"}
NAMES = sorted(set(PROJECT) - SKIP)
INVALID_NUMBERS = ["nan", "NaN", "inf", "-inf", "abc", "", "1,2", "0x"]
VALUES = st.sampled_from(
    ["0", "1", "-1", "2.5", "1e308", "0.5", "true", "false", "cnn_mnist", "1,0", "x", *INVALID_NUMBERS]
)
_tried = {"cases": 0, "errors": 0}


def _clearly_invalid(name: str, value: str) -> bool:
    flag = PROJECT[name]
    kind = flag.flag_type()
    if kind == "string enum":
        return value not in flag.parser.enum_values
    if kind == "bool":
        return value.lower() not in ("true", "false", "1", "0", "t", "f")
    if kind in ("int", "float"):
        try:
            number = float(value) if kind == "float" else int(value)
        except ValueError:
            return True
        low, high = getattr(flag.parser, "lower_bound", None), getattr(flag.parser, "upper_bound", None)
        return not math.isfinite(number) or (low is not None and number < low) or (high is not None and number > high)
    return False


def _run(argv):
    """(exit code or None, stderr) of parse_flags + checked_config on ``argv``, in this process."""
    err = io.StringIO()
    FLAGS.unparse_flags()
    try:
        with contextlib.redirect_stderr(err):
            main_module.parse_flags(argv)
            main_module.checked_config()
        return None, err.getvalue()
    except SystemExit as e:
        return e.code, err.getvalue()
    finally:
        FLAGS.unparse_flags()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pairs=st.lists(st.tuples(st.sampled_from(NAMES), VALUES), min_size=1, max_size=3))
def _one_case(pairs, out):
    argv = ["prog", "--experiment=train", f"--output_dir={out}", *[f"--{n}={v}" for n, v in pairs]]
    code, stderr = _run(argv)
    _tried["cases"] += 1
    if code is not None:
        _tried["errors"] += 1
        lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
        assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (argv, code, stderr)
        assert " -- " in lines[0]  # cause -- fix
    else:  # a flag given twice takes its last value, as in any absl command line: judge that one
        assert not any(_clearly_invalid(n, v) for n, v in dict(pairs).items()), f"accepted invalid input {pairs}"


def test_flags_never_traceback_and_never_pass_garbage(tmp_path):
    _one_case(out=tmp_path / "run")
    print(f"flag fuzz: {_tried['cases']} cases tried, {_tried['errors']} refused with one line")
    assert _tried["cases"] >= 100

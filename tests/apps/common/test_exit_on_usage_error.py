"""Benchmark scripts end on bad input with one line, through `exit_on_usage_error`."""

import pytest

from apps.common.errors import UsageError, exit_on_usage_error


def test_bad_input_ends_with_one_error_line_and_status_2(capsys):
    def main():
        raise UsageError("run folder x has no test_predictions.csv")

    with pytest.raises(SystemExit) as ended:
        exit_on_usage_error(main)
    assert ended.value.code == 2
    captured = capsys.readouterr()
    assert captured.err == "error: run folder x has no test_predictions.csv\n"
    assert captured.out == ""


@pytest.mark.parametrize("returned, status", [(None, None), (0, 0), (3, 3)])
def test_the_exit_status_is_what_main_returns(returned, status):
    with pytest.raises(SystemExit) as ended:
        exit_on_usage_error(lambda: returned)
    assert ended.value.code == status


def test_other_errors_keep_their_traceback():
    with pytest.raises(KeyError):
        exit_on_usage_error(lambda: {}["missing"])

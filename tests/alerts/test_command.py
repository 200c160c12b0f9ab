"""`manage.py deliver_alerts` as an operator runs it: its arguments and exit codes."""

import pytest


@pytest.mark.parametrize(
    ("args", "option"),
    [(["--interval", "0"], "--interval"), (["--interval", "soon"], "--interval"),
     (["--limit", "0"], "--limit"), (["--limit", "many"], "--limit"), (["--forever"], "")],
)  # fmt: skip
def test_bad_arguments_give_one_line_and_exit_2(manage_cli, args, option):
    result = manage_cli("deliver_alerts", "--once", *args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert option in result.stderr


def test_once_runs_one_pass_and_exits_0(manage_cli):
    result = manage_cli("deliver_alerts", "--once")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Alert deliveries: 0 sent, 0 failed (will retry), 0 dead."

"""`manage.py grant_budget --tenant ID --amount USD --reason TEXT`: a one-day top-up."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from usage.models import BudgetCounter, BudgetTopUp


@pytest.mark.django_db
def test_the_command_tops_up_today_and_says_so(tenant):
    out = StringIO()
    call_command("grant_budget", "--tenant", tenant.id, "--amount", "2.50", "--reason",
                 "VIP launch day", stdout=out)  # fmt: skip
    top_up = BudgetTopUp.objects.get()
    assert (top_up.amount_usd, top_up.reason, top_up.granted_by) == (
        Decimal("2.5"), "VIP launch day", "cli",
    )  # fmt: skip
    assert BudgetCounter.objects.get().granted_micros == 2_500_000
    assert out.getvalue() == (
        f"Granted 2.50 USD to ecomlg-001 for {top_up.day:%Y-%m-%d} (reason: VIP launch day).\n"
    )


@pytest.fixture(scope="module")
def shop_cli(manage_cli):
    """The command line, with a tenant shop-1."""
    created = manage_cli("create_tenant", "shop-1", "--name", "Shop", "--plan", "pro")
    assert created.returncode == 0, created.stderr
    return manage_cli


@pytest.mark.parametrize(
    ("args", "exit_code", "message"),
    [
        (["--amount", "abc"], 2, "--amount: 'abc' is not an amount in USD"),
        (["--amount", "0"], 1, "--amount: The amount must be a positive number of USD."),
        (["--amount", "5000"], 1, "--amount: A top-up is at most 1000 USD."),
        (["--reason", " "], 1, "--reason must not be empty"),
        (["--tenant", "nope"], 1, "unknown tenant 'nope'"),
    ],
)
def test_bad_arguments_give_one_line_and_write_nothing(shop_cli, args, exit_code, message):
    defaults = {"--tenant": "shop-1", "--amount": "1", "--reason": "goodwill"}
    overrides = dict(zip(args[::2], args[1::2], strict=True))
    argv = [part for option in {**defaults, **overrides}.items() for part in option]
    # when the command is run with one bad argument
    result = shop_cli("grant_budget", *argv)
    # then one line on stderr, a non-zero exit, and no top-up
    assert (result.returncode, result.stderr.count("\n")) == (exit_code, 1)
    assert message in result.stderr
    assert shop_cli.count("ai_budgettopup") == 0

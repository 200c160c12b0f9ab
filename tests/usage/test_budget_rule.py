"""The budget rule has one owner (usage.budget.rule), and every place that asks "may this tenant
spend?" asks it: the admission statement, status, the dashboard, alerts, demo and synthetic
data. Each test gives a tenant a top-up and checks that the place honours it."""

import ast
import itertools
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone
from freezegun import freeze_time

from console.dashboard import dashboard_read
from tenants.models import Tenant
from usage.budget import BudgetState, Hold, budget_admits, budget_reserve
from usage.budget.rule import SqlTerm
from usage.models import AIUsage, BudgetCounter
from usage.pricing import from_micros
from usage.recording import UsageEntry, usage_record
from usage.synthetic import usage_generate
from usage.top_ups import budget_top_up

ROOT = Path(__file__).resolve().parents[2]
NOON = "2026-03-10 12:00:00"


def _spend(tenant: Tenant, usd: str) -> None:
    usage_record(entry=UsageEntry(
        tenant=tenant, feature="assist", provider="litellm", model="kbz-standard",
        status="success", cost_usd=Decimal(usd),
    ))  # fmt: skip


def _top_up(tenant: Tenant, usd: str) -> None:
    budget_top_up(tenant=tenant, amount=Decimal(usd), reason="goodwill", actor="ops@kb.test")


def test_the_rule_on_sql_terms_writes_the_same_comparison_as_sql():
    # given the rule called on column names
    condition = budget_admits(
        spent=SqlTerm("s"), reserved=SqlTerm("r"), amount=SqlTerm("%s"),
        budget=SqlTerm("%s"), granted=SqlTerm("g"),
    )  # fmt: skip
    # then it is SQL, not a boolean
    assert condition == "s + r + %s <= %s + g"


def test_no_module_but_the_rule_compares_spend_with_a_budget():
    # given every comparison in the code base (tests and migrations aside)
    def compares_spend_with_budget(node: ast.Compare) -> bool:
        names = {n.id if isinstance(n, ast.Name) else getattr(n, "attr", "")
                 for n in ast.walk(node)}  # fmt: skip
        spend = any("spent" in name or "held" in name for name in names)
        holds = any("reserved" in name or "held" in name for name in names)
        return spend and holds and any("budget" in name or "daily" in name for name in names)

    places = set()
    for path in ROOT.glob("*/**/*.py"):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith((".venv/", "tests/", "bench/")) or "/migrations/" in relative:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare) and compares_spend_with_budget(node):
                places.add(f"{relative}:{_function_around(tree, node)}")
    # then the only one is the rule's
    assert places == {"usage/budget/rule.py:budget_admits"}


def _function_around(tree: ast.AST, target: ast.AST) -> str:
    """The name of the innermost function that holds `target` ("-" at module level)."""
    found = "-"
    for function in ast.walk(tree):
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef) and any(
            node is target for node in ast.walk(function)
        ):
            found = function.name  # ast.walk goes outside in: the last one is the innermost
    return found


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("spent", "reserved", "granted", "amount"),
    list(itertools.product((0, 400_000), (0, 599_999, 600_000), (0, 1), (0, 1, 2))),
)
def test_the_admission_statement_admits_exactly_what_the_state_admits(
    make_tenant, spent, reserved, granted, amount
):
    # given a tenant-day with a $1 budget in some state
    tenant = make_tenant("rule-1", daily_budget_override=Decimal("1"))
    now = timezone.now()
    BudgetCounter.objects.create(tenant=tenant, day=tenant.local_day(now), spent_micros=spent,
                                 reserved_micros=reserved, granted_micros=granted)  # fmt: skip
    state = BudgetState.of(tenant, spent, reserved, granted)
    # around what is left: 1 µ$ less than it, all of it, 1 µ$ more (never nothing)
    left = state.daily_micros - spent - reserved
    worst_case = from_micros(max(1, left - 1 + amount))
    call = UsageEntry(tenant=tenant, feature="assist", provider="litellm", model="kbz-standard",
                      status="success")  # fmt: skip
    # when the ledger's statement is asked to hold it
    held = budget_reserve(
        tenant=tenant, admitted_at=now, holds=[Hold(worst_case=worst_case, call=call)]
    )
    # then it agrees with the rule read in Python
    assert (held is not None) == state.admits(int(worst_case * 1_000_000))


@pytest.mark.django_db
@freeze_time(NOON)
def test_the_dashboard_no_longer_lists_a_tenant_whose_top_up_covers_a_call(make_tenant):
    # given a tenant that spent its whole budget
    tenant = make_tenant("spent-1", daily_budget_override=Decimal("0.5"))
    _spend(tenant, "0.5")
    assert [row.tenant.id for row in dashboard_read().blocked_by_budget] == ["spent-1"]
    # when support grants a top-up
    _top_up(tenant, "0.5")
    # then the dashboard no longer shows it blocked
    assert dashboard_read().blocked_by_budget == []


@pytest.mark.django_db
@freeze_time(NOON)
def test_the_status_is_allowed_again_after_a_top_up(make_tenant, client_for, make_user):
    # given a tenant that spent its whole budget
    tenant = make_tenant("spent-2", daily_budget_override=Decimal("0.5"))
    client = client_for(make_user("agent@spent.test", tenant=tenant))
    _spend(tenant, "0.5")
    before = client.get("/ai/assist/status", {"tenantId": "spent-2"}).json()
    # when support grants a top-up
    _top_up(tenant, "0.5")
    # then a minimal request is allowed again
    after = client.get("/ai/assist/status", {"tenantId": "spent-2"}).json()
    assert (before["budget"]["allowed"], after["budget"]["allowed"]) == (False, True)


@pytest.mark.django_db
@freeze_time(NOON)
def test_the_100_percent_alert_waits_for_the_topped_up_budget(make_tenant):
    # given a tenant with a top-up that doubles its day
    tenant = make_tenant("alert-1", daily_budget_override=Decimal("1"))
    _top_up(tenant, "1")
    # when it spends its plain budget, then all of the day's
    _spend(tenant, "1")
    first = set(tenant.alerts.values_list("threshold", flat=True))
    _spend(tenant, "1")
    # then the plain budget spent is only half the day: 80 % and 100 % come with the top-up
    assert first == set()
    assert set(tenant.alerts.values_list("threshold", flat=True)) == {Decimal(80), Decimal(100)}


@pytest.mark.django_db
def test_synthetic_history_spends_a_top_up_of_today(make_tenant):
    # given a synthetic tenant whose small budget of today is doubled by a top-up
    now = datetime(2026, 3, 10, 12, tzinfo=UTC)
    tenant = make_tenant("synthetic-0001", plan="pro", timezone="UTC",
                         daily_budget_override=Decimal("0.02"))  # fmt: skip
    with freeze_time(now):
        _top_up(tenant, "0.02")
    # when a lot of usage is generated for today
    usage_generate(tenants=1, rows=400, days=1, seed=3, now=now)
    # then the day's spend went past the plain budget, and not past the topped-up one
    counter = BudgetCounter.objects.get(tenant=tenant, day=tenant.local_day(now))
    assert 20_000 < counter.spent_micros <= 40_000


@pytest.mark.django_db
def test_demo_history_spends_a_top_up_of_today(settings):
    # given the demo tenants, and a day spent but for a top-up that remains
    settings.KEYBUZZ = {**settings.KEYBUZZ, "AI_BUDGET_TIMEZONE": "UTC"}
    call_command("seed_demo", "--force", stdout=None)
    tenant = Tenant.objects.select_related("plan__model").get(pk="demo-starter")
    today = tenant.local_day()
    AIUsage.objects.filter(tenant=tenant, id__contains=f"-{today:%Y%m%d}-").delete()
    counter = BudgetCounter.objects.get(tenant=tenant, day=today)
    BudgetCounter.objects.filter(pk=counter.pk).update(spent_micros=1_000_000)  # all of $1
    _top_up(tenant, "0.5")
    # when the demo is seeded again (it writes today's rows that are missing)
    call_command("seed_demo", "--force", stdout=None)
    # then today's demo calls spent from the top-up
    counter.refresh_from_db()
    assert counter.spent_micros > 1_000_000
    assert counter.spent_micros <= 1_500_000

"""`manage.py seed_demo`: demo tenants, printed logins and 30 local days of usage (CONTRACT §6)."""

import re
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from tenants.models import Membership, Plan, Tenant, User
from tenants.services import tenant_create
from usage.models import AIUsage, BudgetCounter
from usage.pricing import to_micros
from usage.recording import UsageEntry, usage_record

REPO_ROOT = next(p for p in Path(__file__).resolve().parents if (p / "manage.py").is_file())
LOGIN_LINE = re.compile(r"^\s+(?P<email>\S+@\S+) / (?P<password>\S+)\s+\((?P<role>[^)]*)\)$")


def _seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def _logins(output: str) -> list[dict[str, str]]:
    return [m.groupdict() for line in output.splitlines() if (m := LOGIN_LINE.match(line))]


def _written() -> dict[str, int]:
    return {
        "tenants": Tenant.objects.count(),
        "users": User.objects.count(),
        "memberships": Membership.objects.count(),
        "usage_rows": AIUsage.objects.count(),
    }


@pytest.fixture
def seeded(db) -> str:
    """seed_demo --force run once; its output."""
    return _seed("--force")


# --- refusal -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_seed_demo_without_debug_or_force_is_refused(settings):
    # given
    settings.DEBUG = False

    # when / then
    with pytest.raises(CommandError, match="--force"):
        _seed()


@pytest.mark.django_db
def test_seed_demo_refused_writes_nothing(settings):
    # given
    settings.DEBUG = False
    before = _written()

    # when
    with pytest.raises(CommandError):
        _seed()

    # then
    assert _written() == before


@pytest.mark.django_db
def test_seed_demo_runs_without_force_when_debug_is_on(settings):
    # given
    settings.DEBUG = True

    # when
    _seed()

    # then
    assert Tenant.objects.exists()


@pytest.mark.django_db
def test_seed_demo_rejects_an_unknown_option():
    # given
    before = _written()

    # when
    with pytest.raises(CommandError):
        _seed("--force", "--days", "7")

    # then
    assert _written() == before


# --- tenants and logins --------------------------------------------------------------------


def test_seed_demo_creates_a_tenant_on_each_plan(seeded):
    # then
    assert set(Tenant.objects.values_list("plan_id", flat=True)) == {"starter", "pro", "autopilot"}


def test_seed_demo_prints_staff_logins_for_each_console_group_and_an_owner_login(seeded):
    # then
    assert sorted(login["role"].split(", ")[:2][-1] for login in _logins(seeded)) == [
        "Billing admin", "Support", "superuser", "tenant owner",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("email", "group"),
    [("support@keybuzz.localhost", "Support"), ("billing@keybuzz.localhost", "Billing admin")],
)
def test_seed_demo_group_logins_are_in_their_group_and_not_superusers(seeded, email, group):
    user = User.objects.get(email=email)
    assert (user.is_staff, user.is_superuser) == (True, False)
    assert list(user.groups.values_list("name", flat=True)) == [group]


def test_seed_demo_printed_logins_authenticate(seeded):
    # when
    users = [
        authenticate(email=login["email"], password=login["password"]) for login in _logins(seeded)
    ]

    # then
    assert [user.email if user else None for user in users] == [
        login["email"] for login in _logins(seeded)
    ]


def test_seed_demo_staff_login_is_staff(seeded):
    # given
    staff = next(login for login in _logins(seeded) if login["role"].startswith("staff"))

    # when
    user = authenticate(email=staff["email"], password=staff["password"])

    # then
    assert user.is_staff is True


def test_seed_demo_owner_login_is_not_staff(seeded):
    # given
    owner = next(login for login in _logins(seeded) if login["role"] == "tenant owner")

    # when
    user = authenticate(email=owner["email"], password=owner["password"])

    # then
    assert user.is_staff is False


def test_seed_demo_owner_login_owns_a_demo_tenant(seeded):
    # given
    owner = next(login for login in _logins(seeded) if login["role"] == "tenant owner")

    # when
    roles = Membership.objects.filter(user__email=owner["email"]).values_list("role", flat=True)

    # then
    assert "owner" in set(roles)


# --- usage history -------------------------------------------------------------------------


def _costs_by_tenant() -> dict[str, list[Decimal]]:
    costs = defaultdict(list)
    for tenant_id, cost in AIUsage.objects.values_list("tenant_id", "cost_usd_est"):
        costs[tenant_id].append(cost)
    return costs


def _local_days_by_tenant() -> dict[str, set]:
    zones = {tenant.id: tenant.zone for tenant in Tenant.objects.all()}
    days = defaultdict(set)
    for tenant_id, created_at in AIUsage.objects.values_list("tenant_id", "created_at"):
        days[tenant_id].add(created_at.astimezone(zones[tenant_id]).date())
    return days


def test_seed_demo_writes_usage_on_each_of_the_last_30_local_days(seeded):
    # given
    expected = {}
    for tenant in Tenant.objects.all():
        today = timezone.now().astimezone(tenant.zone).date()
        expected[tenant.id] = {today - timedelta(days=offset) for offset in range(30)}

    # when
    days = _local_days_by_tenant()

    # then
    assert days == expected


def test_seed_demo_writes_some_spend_for_every_tenant(seeded):
    # when
    spent = {tenant_id: sum(costs, Decimal("0")) for tenant_id, costs in _costs_by_tenant().items()}

    # then
    assert sorted(t for t, total in spent.items() if total > 0) == sorted(
        Tenant.objects.values_list("id", flat=True)
    )


def test_seed_demo_writes_no_usage_in_the_future(seeded):
    # then
    assert not AIUsage.objects.filter(created_at__gt=timezone.now()).exists()


def test_seed_demo_keeps_each_tenant_day_within_its_daily_budget(seeded):
    # given
    tenants = {tenant.id: tenant for tenant in Tenant.objects.select_related("plan")}

    # when
    over_budget = {
        (tenant_id, day): total
        for (tenant_id, day), total in _spent_by_tenant_day().items()
        if total > tenants[tenant_id].daily_budget
    }

    # then
    assert over_budget == {}


def test_seed_demo_writes_the_plans_model_alias_on_every_row(seeded):
    # given
    aliases = {tenant.id: tenant.plan.model_id for tenant in Tenant.objects.select_related("plan")}

    # when
    wrong = [
        (row_id, tenant_id, model)
        for row_id, tenant_id, model in AIUsage.objects.values_list("id", "tenant_id", "model")
        if model != aliases[tenant_id]
    ]

    # then
    assert wrong == []


def test_seed_demo_rows_have_total_tokens_equal_to_prompt_plus_completion(seeded):
    # when
    inconsistent = [
        row
        for row in AIUsage.objects.values_list(
            "id", "prompt_tokens", "completion_tokens", "total_tokens"
        )
        if row[1] + row[2] != row[3]
    ]

    # then
    assert inconsistent == []


def test_seed_demo_uses_the_contracts_statuses_and_features(seeded):
    # when
    values = set(AIUsage.objects.values_list("status", "feature").distinct())

    # then
    assert values <= {
        (status, feature)
        for status in ("success", "blocked", "error")
        for feature in ("assist", "autopilot", "journal")
    }


# --- idempotency ---------------------------------------------------------------------------


def test_seed_demo_twice_writes_the_same_rows(seeded):
    # given
    rows_before = set(AIUsage.objects.values_list("id", flat=True))

    # when
    _seed("--force")

    # then
    assert set(AIUsage.objects.values_list("id", flat=True)) == rows_before


def test_seed_demo_twice_keeps_the_same_tenants_users_and_memberships(seeded):
    # given
    before = _written()

    # when
    _seed("--force")

    # then
    assert _written() == before


def test_seed_demo_twice_keeps_the_logins_working(seeded):
    # when
    output = _seed("--force")

    # then
    assert all(
        authenticate(email=login["email"], password=login["password"]) is not None
        for login in _logins(output)
    )


def test_seed_demo_twice_keeps_each_tenant_day_within_its_daily_budget(seeded):
    # given
    _seed("--force")
    tenants = {tenant.id: tenant for tenant in Tenant.objects.select_related("plan")}

    # when
    over_budget = {
        (tenant_id, day): total
        for (tenant_id, day), total in _spent_by_tenant_day().items()
        if total > tenants[tenant_id].daily_budget
    }

    # then
    assert over_budget == {}


# --- from the command line (see ManageCli) ---------------------------------------------------


def test_cli_seed_demo_without_force_prints_one_line_and_exits_1(manage_cli):
    # given / when
    result = manage_cli("seed_demo")

    # then
    assert (result.returncode, len(result.stderr.splitlines()), result.stderr[:13]) == (
        1,
        1,
        "CommandError:",
    )


def test_cli_seed_demo_without_force_writes_nothing(manage_cli):
    # given / when
    manage_cli("seed_demo")

    # then
    counts = [manage_cli.count(table) for table in ("tenants_tenant", "tenants_user", "ai_usage")]
    assert counts == [0, 0, 0]


def test_seed_demo_counters_equal_the_rows_of_each_tenant_day(seeded):
    # given the demo history, recorded through the one recording service
    expected = {key: to_micros(total) for key, total in _spent_by_tenant_day().items() if total}
    # then every budget counter holds exactly its day's spend, and nothing in flight
    counters = {
        (c.tenant_id, c.day): (c.spent_micros, c.reserved_micros)
        for c in BudgetCounter.objects.all()
    }
    assert counters == {key: (spent, 0) for key, spent in expected.items()}


def _spent_by_tenant_day() -> dict[tuple[str, object], Decimal]:
    """Σ cost_usd_est per tenant and local day, summed in Python from the rows."""
    tenants = {tenant.id: tenant for tenant in Tenant.objects.all()}
    spent = defaultdict(Decimal)
    for tenant_id, created_at, cost in AIUsage.objects.values_list(
        "tenant_id", "created_at", "cost_usd_est"
    ):
        spent[tenant_id, tenants[tenant_id].local_day(created_at)] += cost
    return spent


@pytest.mark.django_db
def test_seed_demo_counts_what_today_already_spent_against_the_budget(settings):
    # given the demo tenant exists and has spent all but a cent of today's budget through the API
    settings.KEYBUZZ = {**settings.KEYBUZZ, "AI_BUDGET_TIMEZONE": "UTC"}
    tenant = tenant_create(
        tenant_id="ecomlg-001", name="eComLG", plan=Plan.objects.get(pk="pro"),
        timezone="Europe/Paris", language="fr",
    )  # fmt: skip
    usage_record(entry=UsageEntry(
        tenant=tenant, feature="assist", provider="litellm", model="kbz-standard",
        status="success", cost_usd=Decimal("9.99"),
    ))  # fmt: skip
    # when the demo is seeded
    _seed("--force")
    # then today's demo rows did not push the day past its budget
    today = tenant.local_day()
    assert _spent_by_tenant_day()["ecomlg-001", today] <= tenant.daily_budget

"""Demo data for `make run`: tenants on each plan, two logins, 30 days of plausible usage.

Idempotent: tenants and users are created once, passwords reset to the documented demo ones,
and usage is generated only for local days that have no demo rows yet. Usage goes through the
one recording service, like every other writer.
"""

import random
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from tenants.models import Membership, Plan, Tenant, User
from tenants.services import membership_get_or_create, tenant_create, user_get_or_create
from usage.budget import BudgetState
from usage.exceptions import BudgetExceeded
from usage.models import AIUsage, BudgetCounter
from usage.pricing import cost_usd, to_micros
from usage.recording import UsageEntry, usage_record_many

HISTORY_DAYS = 30


@dataclass(frozen=True)
class DemoTenant:
    id: str
    name: str
    plan: str
    timezone: str
    language: str
    calls_per_day: tuple[int, int]


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    is_staff: bool
    memberships: tuple[tuple[str, str], ...]  # (tenant id, role)
    group: str = ""  # a console group (console migrations); staff without one: superuser

    @property
    def role(self) -> str:
        if not self.is_staff:
            return "tenant owner"
        return f"staff, {self.group or 'superuser'}, http://127.0.0.1:8000/staff/"


DEMO_TENANTS = (
    DemoTenant("demo-starter", "Boutique Lumière", "starter", "Europe/Paris", "fr", (8, 20)),
    DemoTenant("ecomlg-001", "eComLG", "pro", "Europe/Paris", "fr", (25, 60)),
    DemoTenant(
        "demo-autopilot", "Northwind Outfitters", "autopilot", "America/New_York", "en", (60, 150)
    ),
)
DEMO_LOGINS = (
    DemoLogin("staff@keybuzz.localhost", "keybuzz-staff-demo", True, ()),
    DemoLogin("support@keybuzz.localhost", "keybuzz-support-demo", True, (), "Support"),
    DemoLogin("billing@keybuzz.localhost", "keybuzz-billing-demo", True, (), "Billing admin"),
    DemoLogin(
        "owner@ecomlg.localhost",
        "keybuzz-owner-demo",
        False,
        (("ecomlg-001", "owner"), ("demo-starter", "admin"), ("demo-autopilot", "admin")),
    ),
)
_FEATURES = (("assist", 75), ("autopilot", 15), ("journal", 10))
_ERRORS = ("upstream_timeout", "upstream_error", "upstream_rate_limited")


@transaction.atomic
def demo_seed(*, now: datetime | None = None) -> list[DemoLogin]:
    now = now or timezone.now()
    tenants = [_tenant(spec) for spec in DEMO_TENANTS]
    for login in DEMO_LOGINS:
        _login(login)
    entries = [entry for tenant in tenants for entry in _history(tenant, now=now)]
    usage_record_many(entries=entries)
    return list(DEMO_LOGINS)


def _tenant(spec: DemoTenant) -> Tenant:
    tenant = Tenant.objects.filter(pk=spec.id).first()
    if tenant is None:
        tenant = tenant_create(
            tenant_id=spec.id,
            name=spec.name,
            plan=Plan.objects.get(pk=spec.plan),
            timezone=spec.timezone,
            language=spec.language,
        )
    return tenant


def _login(login: DemoLogin) -> User:
    user, _ = user_get_or_create(email=login.email, is_staff=login.is_staff)
    user.set_password(login.password)
    user.is_superuser = login.is_staff and not login.group  # one demo login may do anything
    user.save()
    if login.group:
        user.groups.add(Group.objects.get(name=login.group))
    for tenant_id, role in login.memberships:
        membership_get_or_create(user=user, tenant=Tenant.objects.get(pk=tenant_id), role=role)
    return user


def _history(tenant: Tenant, *, now: datetime) -> list[UsageEntry]:
    """Usage entries for the local days of the window that have no demo rows yet."""
    spec = next(spec for spec in DEMO_TENANTS if spec.id == tenant.id)
    today = tenant.local_day(now)
    days = [today - timedelta(days=offset) for offset in range(HISTORY_DAYS - 1, -1, -1)]
    seeded = {
        row_id.split("-")[-2]
        for row_id in AIUsage.objects.filter(
            tenant=tenant, id__startswith=f"demo-{tenant.id}-"
        ).values_list("id", flat=True)
    }
    user_ids = [
        str(user_id)
        for user_id in Membership.objects.filter(tenant=tenant).values_list("user_id", flat=True)
    ]
    entries: list[UsageEntry] = []
    for day in days:
        if f"{day:%Y%m%d}" not in seeded:
            entries.extend(_day(tenant, spec, day, user_ids, now=now))
    return entries


def _budget_now(tenant: Tenant, day: date) -> BudgetState:
    """What the tenant-day already spent, holds (API calls on a running demo) and was granted,
    with its counter locked until the seed commits, so that the demo rows keep the day within
    budget."""
    counter = (
        BudgetCounter.objects.select_for_update()
        .filter(tenant=tenant, day=day)
        .values_list("spent_micros", "reserved_micros", "granted_micros")
        .first()
    )
    return BudgetState.of(tenant, *(counter or ()))


def _day(
    tenant: Tenant, spec: DemoTenant, day: date, user_ids: list[str], *, now: datetime
) -> list[UsageEntry]:
    rng = random.Random(f"{tenant.id}/{day.isoformat()}")
    start = datetime.combine(day, time.min, tenant.zone)
    end = min(datetime.combine(day + timedelta(days=1), time.min, tenant.zone), now)
    if end <= start:
        return []
    span = (end - start).total_seconds()
    moments = sorted(
        start + timedelta(seconds=rng.uniform(0, span))
        for _ in range(rng.randint(*spec.calls_per_day))
    )
    price = tenant.plan.model
    budget = _budget_now(tenant, day)
    entries = []
    for number, moment in enumerate(moments):
        row_id = f"demo-{tenant.id}-{day:%Y%m%d}-{number:04d}"
        base = dict(
            id=row_id,
            request_id=row_id,
            tenant=tenant,
            user_id=rng.choice(user_ids) if user_ids else None,
            feature=rng.choices([f for f, _ in _FEATURES], [w for _, w in _FEATURES])[0],
            provider="litellm",
            model=price.alias,
            created_at=moment,
        )
        prompt, completion = rng.randint(150, 1500), rng.randint(40, 450)
        cost = cost_usd(price=price, prompt_tokens=prompt, completion_tokens=completion)
        roll = rng.random()
        if roll < 0.03:
            entries.append(UsageEntry(**base, status="error", error_code=rng.choice(_ERRORS)))
        elif not budget.admits(to_micros(cost)):
            entries.append(UsageEntry(**base, status="blocked", error_code=BudgetExceeded.reason))
        else:
            budget = replace(budget, spent_micros=budget.spent_micros + to_micros(cost))
            entries.append(
                UsageEntry(
                    **base,
                    status="success",
                    prompt_tokens=prompt,
                    completion_tokens=completion,
                    cost_usd=cost,
                )
            )
    return entries

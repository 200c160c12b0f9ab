"""keybuzz.fixed_sql: the hot path's hand-written statements load and write exactly what the
ORM would, on SQLite and on PostgreSQL (CI runs this file on both)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from keybuzz import fixed_sql
from tenants.access import Access, tenant_for_user
from tenants.models import ModelPrice, Plan, Tenant, User
from tenants.tokens import api_token_issue, api_token_user, api_tokens_revoke
from usage.models import AIUsage, Reservation

pytestmark = pytest.mark.django_db


def _fields(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.fields}


def _row(model, pk) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT {fixed_sql.columns(model, "x")} FROM "{model._meta.db_table}" x '  # noqa: S608
            f'WHERE x."{model._meta.pk.column}" = %s',
            [pk],
        )
        return cursor.fetchone()


@pytest.mark.parametrize("model", [Tenant, Plan, ModelPrice, User])
def test_from_row_loads_what_the_orm_loads(model, make_tenant, make_user):
    # given rows with a JSON list, a Decimal override, a time zone and timestamps
    tenant = make_tenant(
        "ecomlg-001", timezone="Europe/Paris", daily_budget_override=Decimal("2.500001")
    )
    Tenant.objects.filter(pk=tenant.pk).update(alert_percents=[50, 90])
    make_user("agent@ecomlg.test", is_staff=True)
    expected = model.objects.order_by("pk").first()
    # when the same row is read by fixed SQL
    loaded = fixed_sql.from_row(model, _row(model, expected.pk))
    # then every field has the ORM's value and type, and the instance is a saved one
    assert _fields(loaded) == _fields(expected)
    assert {k: type(v) for k, v in _fields(loaded).items()} == {
        k: type(v) for k, v in _fields(expected).items()
    }
    assert not loaded._state.adding


def test_insert_writes_what_save_would(tenant):
    # given a reservation built in Python, with aware datetimes
    now = timezone.now()
    reservation = Reservation(
        id="r-1", tenant=tenant, day=tenant.local_day(now), amount_micros=19_176, created_at=now,
        expires_at=now + timedelta(seconds=60), request_id="req-1", user_id="7",
        feature="assist", provider="litellm", model="kbz-standard",
    )  # fmt: skip
    # when it is inserted by fixed SQL
    fixed_sql.insert(reservation)
    # then the ORM reads it back unchanged
    assert _fields(Reservation.objects.get(pk="r-1")) == _fields(reservation)
    assert not reservation._state.adding


def test_insert_rows_prepares_every_value_by_its_field(tenant):
    now = timezone.now()
    columns = (
        "id", "tenant_id", "feature", "provider", "model", "prompt_tokens",
        "completion_tokens", "total_tokens", "cost_usd_est", "status", "created_at",
    )  # fmt: skip
    rows = [
        (f"u-{n}", tenant.id, "assist", "litellm", "kbz-standard", 198, 133, 331,
         Decimal("0.002589"), "success", now + timedelta(microseconds=n))
        for n in range(3)
    ]  # fmt: skip
    fixed_sql.insert_rows(AIUsage, columns, rows[:1])  # one row: a plain statement
    fixed_sql.insert_rows(AIUsage, columns, rows[1:])  # several: executemany
    stored = AIUsage.objects.order_by("id").values_list(*columns)
    assert [tuple(row) for row in stored] == rows


def test_the_token_lookup_ignores_revoked_tokens_and_inactive_users(make_user):
    user = make_user("agent@ecomlg.test")
    _, raw = api_token_issue(user=user)
    assert api_token_user(raw_token=raw) == user
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert api_token_user(raw_token=raw) is None
    User.objects.filter(pk=user.pk).update(is_active=True)
    api_tokens_revoke(user=user)
    assert api_token_user(raw_token=raw) is None


def test_the_tenant_comes_with_its_plan_and_price_in_one_query(
    make_tenant, make_user, django_assert_num_queries
):
    tenant = make_tenant("ecomlg-001", plan="autopilot")
    user = make_user("agent@ecomlg.test", tenant=tenant)
    with django_assert_num_queries(1):
        loaded = tenant_for_user(user=user, tenant_id="ecomlg-001", access=Access.SPEND)
        assert (loaded.plan.code, loaded.plan.model.alias) == ("autopilot", "kbz-premium")
        assert loaded.plan.model.output_usd_per_million == Decimal("10.000000")

"""Moving models between apps (tenants 0006, usage 0006, ai 0010) keeps every row and permission.

The models keep their tables: only Django's state and the content types change apps. The test
migrates back to the schema before the move, fills every table of the project's apps through
the historical models, migrates forward and compares the tables row by row.
"""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [
    ("ai", "0009_hot_path_indexes"),
    ("tenants", "0005_alert_percents"),
    ("usage", "0005_hot_path_indexes"),
    ("alerts", "0002_settings_row_and_staff_groups"),
    ("console", "0001_staff_groups"),
]
PROJECT_APPS = ["tenants", "ai", "usage", "alerts", "console", "reports"]
DAY = date(2026, 3, 2)
SPENT, RESERVED, GRANTED = 1_234_567, 89_000, 5_000_000


def _migrate(targets: list[tuple[str, str]] | None = None):
    """Migrate to `targets` (the latest leaf nodes when None); returns that state's models."""
    executor = MigrationExecutor(connection)
    targets = targets or executor.loader.graph.leaf_nodes()
    executor.migrate(targets)
    ContentType.objects.clear_cache()
    return MigrationExecutor(connection).loader.project_state(targets).apps


def _tables(apps) -> dict[str, str]:
    """Each table of the project's apps in a migration state, with its primary key column."""
    labels = {config.label for config in apps.get_app_configs()}
    return {
        model._meta.db_table: model._meta.pk.column
        for label in PROJECT_APPS
        if label in labels
        for model in apps.get_app_config(label).get_models(include_auto_created=True)
    }


def _snapshot(tables: dict[str, str]) -> dict[str, list[dict]]:
    """Every row of every table, as {column: value}, in primary key order."""
    quote, snapshot = connection.ops.quote_name, {}
    with connection.cursor() as cursor:
        for table, pk in sorted(tables.items()):
            cursor.execute(f"SELECT * FROM {quote(table)} ORDER BY {quote(pk)}")  # noqa: S608 (model tables)
            columns = [column[0] for column in cursor.description]
            snapshot[table] = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    return snapshot


def _as_before(snapshot: dict[str, list[dict]], before: dict[str, list[dict]]):
    """The snapshot with only the columns each table had before (later migrations add some)."""
    return {
        table: [{column: row[column] for column in before[table][0]} for row in found]
        for table, found in snapshot.items()
    }


def _fill(apps) -> None:
    """At least one row in each table of the pre-move schema, the moved models' included."""
    model = apps.get_model
    now = timezone.now()
    price = model("ai", "ModelPrice").objects.create(
        alias="keep-data-model", input_usd_per_million=Decimal("1.250000"),
        output_usd_per_million=Decimal("10.000000"),
    )  # fmt: skip
    plan = model("tenants", "Plan").objects.create(
        code="keep-data", name="Keep data", daily_budget_usd=Decimal("7.50"), model=price,
        fallback_model="keep-data-fallback", requests_per_minute=42, alert_percents=[50, 90],
    )  # fmt: skip
    tenant = model("tenants", "Tenant").objects.create(
        id="keep-data-001", name="Keep data", timezone="Europe/Paris", plan=plan,
        daily_budget_override=Decimal("9.99"), alert_percents=[75],
    )  # fmt: skip
    user = model("tenants", "User").objects.create(email="keep@data.test", password="!")
    model("tenants", "Membership").objects.create(user=user, tenant=tenant, role="admin")
    model("tenants", "ApiToken").objects.create(user=user, prefix="kd01", digest="d" * 64)
    content_types = model("contenttypes", "ContentType").objects
    ai_ct = {
        name: content_types.get_or_create(app_label="ai", model=name)[0]
        for name in ("modelprice", "budgettopup")
    }
    permissions = [
        model("auth", "Permission").objects.get_or_create(
            content_type=ai_ct[name], codename=f"{action}_{name}",
            defaults={"name": f"Can {action} {name}"},
        )[0]
        for action, name in (("change", "modelprice"), ("add", "budgettopup"))
    ]  # fmt: skip
    group = model("auth", "Group").objects.create(name="Keep data staff")
    group.permissions.add(*permissions)
    user.groups.add(group)
    user.user_permissions.add(*permissions)

    model("ai", "AIGlobalSettings").objects.update_or_create(
        pk=1, defaults={"global_kill_switch": False, "reason": "keep", "updated_by": "test"}
    )
    model("ai", "AISettings").objects.create(tenant=tenant, reason="keep", updated_by="test")
    model("ai", "KillSwitchChange").objects.create(
        tenant=tenant, old_value=False, new_value=True, reason="keep", changed_by="test"
    )
    model("ai", "RateLimitState").objects.create(tenant=tenant, tat_micros=123_456, admitted=True)
    model("ai", "IdempotencyKey").objects.create(
        tenant=tenant, key="idem-1", request_hash="h" * 64, holder="w1", request_id="req-1",
        claimed_at=now, response_body='{"ok": true}', completed_at=now,
    )  # fmt: skip
    model("ai", "BudgetCounter").objects.create(
        tenant=tenant, day=DAY, spent_micros=SPENT, reserved_micros=RESERVED,
        granted_micros=GRANTED,
    )  # fmt: skip
    model("ai", "Reservation").objects.create(
        id="res-1", tenant=tenant, day=DAY, amount_micros=RESERVED, created_at=now,
        expires_at=now + timedelta(minutes=5), request_id="req-2", user_id=str(user.pk),
        feature="assist", provider="litellm", model=price.alias,
    )  # fmt: skip
    top_up = model("ai", "BudgetTopUp").objects.create(
        tenant=tenant, day=DAY, amount_usd=Decimal("5.000000"), reason="keep", granted_by="test"
    )
    model("admin", "LogEntry").objects.create(
        user=user, content_type=ai_ct["budgettopup"], object_id=str(top_up.pk),
        object_repr="keep", action_flag=1, change_message="[]", action_time=now,
    )  # fmt: skip
    model("usage", "AIUsage").objects.create(
        id="usage-1", tenant=tenant, user_id=str(user.pk), feature="assist", provider="litellm",
        model=price.alias, prompt_tokens=100, completion_tokens=20, total_tokens=120,
        cost_usd_est=Decimal("0.000325"), status="success", request_id="req-3",
    )  # fmt: skip
    model("usage", "UsageRollup").objects.create(
        tenant=tenant, day=DAY, feature="assist", model=price.alias, status="success", calls=1,
        tokens=120, cost_micros=325,
    )  # fmt: skip
    model("usage", "UsagePurge").objects.create(before=DAY, rows_deleted=3)
    alert = model("alerts", "Alert").objects.create(
        key="keep-data-alert", kind="budget_percent", day=DAY, tenant=tenant,
        threshold=Decimal("50"), spend_usd=Decimal("3.75"), budget_usd=Decimal("7.50"),
    )  # fmt: skip
    model("alerts", "AlertDelivery").objects.create(alert=alert, channel="email", attempts=2)
    model("alerts", "AlertSettings").objects.update_or_create(
        pk=1, defaults={"platform_daily_usd": Decimal("100.00"), "updated_at": now}
    )
    model("alerts", "WebhookEndpoint").objects.create(
        tenant=tenant, url="https://hooks.keep.test/x"
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_moving_models_between_apps_loses_no_row_counter_or_permission():
    """Every row of tenants', ai's, usage's and alerts' tables survives the move unchanged, the
    counters keep their spend, and staff permissions and admin log entries follow the models."""
    try:
        # given: the schema before the move, with a row in every table
        before = _migrate(BEFORE)
        _fill(before)
        tables = _tables(before)
        rows = _snapshot(tables)
        assert all(rows.values()), [table for table, found in rows.items() if not found]

        # when
        after = _migrate()

        # then
        assert tables.items() <= _tables(after).items()  # later migrations may add tables
        assert _as_before(_snapshot(tables), rows) == rows  # later columns set aside
        counter = after.get_model("usage", "BudgetCounter").objects.get(tenant_id="keep-data-001")
        assert (counter.spent_micros, counter.reserved_micros, counter.granted_micros) == (
            SPENT, RESERVED, GRANTED,
        )  # fmt: skip
        group = after.get_model("auth", "Group").objects.get(name="Keep data staff")
        granted = group.permissions.values_list(
            "content_type__app_label", "content_type__model", "codename"
        )
        assert sorted(granted) == [
            ("tenants", "modelprice", "change_modelprice"),
            ("usage", "budgettopup", "add_budgettopup"),
        ]
        logged = after.get_model("admin", "LogEntry").objects.get(object_repr="keep")
        assert (logged.content_type.app_label, logged.content_type.model) == (
            "usage", "budgettopup",
        )  # fmt: skip
    finally:
        _migrate()

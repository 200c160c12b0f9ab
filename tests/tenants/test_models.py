from decimal import Decimal

import pytest
from django.contrib.auth import authenticate
from django.db import IntegrityError, connection

from ai.models import AIGlobalSettings, AISettings
from tenants.models import ModelPrice, Plan, User

pytestmark = pytest.mark.django_db

SEED_AI_USAGE_COLUMNS = {
    "id", "tenant_id", "user_id", "feature", "provider", "model", "prompt_tokens",
    "completion_tokens", "total_tokens", "cost_usd_est", "status", "error_code", "request_id",
    "created_at",
}  # fmt: skip
ROUTING_AI_USAGE_COLUMNS = {"default_model", "route_reason", "max_tokens", "upstream_model"}


def test_migrations_seed_the_three_plans_with_the_seed_values():
    # given a freshly migrated database
    # when the plans are read
    plans = {p.code: (p.daily_budget_usd, p.model_id, p.fallback_model) for p in Plan.objects.all()}
    # then they are the seed's
    assert plans == {
        "starter": (Decimal("1"), "kbz-cheap", "Claude Haiku"),
        "pro": (Decimal("10"), "kbz-standard", "GPT-4o-mini"),
        "autopilot": (Decimal("50"), "kbz-premium", "Claude Sonnet 4"),
    }


def test_migrations_seed_the_three_model_prices():
    prices = {
        p.alias: (p.input_usd_per_million, p.output_usd_per_million)
        for p in ModelPrice.objects.all()
    }
    assert prices == {
        "kbz-cheap": (Decimal("0.15"), Decimal("0.60")),
        "kbz-standard": (Decimal("3.00"), Decimal("15.00")),
        "kbz-premium": (Decimal("2.50"), Decimal("10.00")),
    }


def test_migrations_create_exactly_one_global_settings_row_with_the_switch_off():
    assert list(AIGlobalSettings.objects.values_list("id", "global_kill_switch")) == [(1, False)]


def test_a_second_global_settings_row_is_refused_by_the_database():
    with pytest.raises(IntegrityError):
        AIGlobalSettings.objects.create(id=2)


def test_email_is_stored_lower_case():
    user = User.objects.create_user("Agent@Example.TEST")
    assert user.email == "agent@example.test"


def test_the_same_email_in_another_case_is_refused():
    User.objects.create_user("agent@example.test")
    with pytest.raises(IntegrityError):
        User.objects.create_user("AGENT@example.test")


def test_the_database_refuses_an_upper_case_email_written_around_the_model():
    # bulk_create skips save(), so only the check constraint stands in the way
    with pytest.raises(IntegrityError):
        User.objects.bulk_create([User(email="Mixed@Example.test")])


def test_login_accepts_the_email_in_any_case():
    User.objects.create_user("owner@example.test", password="a-long-password-1")
    assert authenticate(email="OWNER@example.test", password="a-long-password-1") is not None


def test_create_user_without_password_leaves_it_unusable():
    assert not User.objects.create_user("agent@example.test").has_usable_password()


def test_a_new_tenant_gets_its_ai_settings_row_with_the_switch_off(make_tenant):
    tenant = make_tenant("shop-1")
    assert AISettings.objects.get(tenant=tenant).kill_switch is False


def test_a_tenant_uses_its_plan_budget_without_an_override(make_tenant):
    assert make_tenant("shop-1", plan="starter").daily_budget == Decimal("1")


def test_a_tenant_budget_override_replaces_the_plan_budget(make_tenant):
    tenant = make_tenant("shop-1", plan="starter", daily_budget_override=Decimal("2.5"))
    assert tenant.daily_budget == Decimal("2.5")


def test_a_tenant_without_timezone_uses_the_budget_timezone(make_tenant, settings):
    settings.KEYBUZZ = {**settings.KEYBUZZ, "AI_BUDGET_TIMEZONE": "Asia/Tokyo"}
    assert make_tenant("shop-1").zone.key == "Asia/Tokyo"


def test_a_tenant_timezone_wins_over_the_budget_timezone(make_tenant):
    assert make_tenant("shop-1", timezone="Europe/Paris").zone.key == "Europe/Paris"


def test_ai_usage_has_exactly_the_seed_columns_and_routings():
    # CONTRACT §2, and the four columns §8 adds
    with connection.cursor() as cursor:
        columns = connection.introspection.get_table_description(cursor, "ai_usage")
    assert {column.name for column in columns} == SEED_AI_USAGE_COLUMNS | ROUTING_AI_USAGE_COLUMNS


def test_ai_usage_is_indexed_for_tenant_and_time_and_for_request_id():
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "ai_usage")
    indexed = {tuple(c["columns"]) for c in constraints.values() if c["index"]}
    assert {("tenant_id", "created_at"), ("request_id",)} <= indexed


def test_settings_tables_keep_the_seed_names():
    tables = set(connection.introspection.table_names())
    assert {"ai_usage", "ai_settings", "ai_global_settings"} <= tables


@pytest.mark.postgres
def test_ai_usage_money_and_time_columns_have_the_seed_types_on_postgres():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name, data_type, numeric_precision, numeric_scale "
            "FROM information_schema.columns WHERE table_name = 'ai_usage' "
            "AND column_name IN ('cost_usd_est', 'created_at')"
        )
        types = {row[0]: row[1:] for row in cursor.fetchall()}
    assert types == {
        "cost_usd_est": ("numeric", 10, 6),
        "created_at": ("timestamp with time zone", None, None),
    }

"""Fixtures of the alert tests: spending through the one recording service, members who get
alerts, a tenant's webhook endpoint, and deliver_alerts passes."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from alerts.models import WebhookEndpoint
from tenants.models import Membership
from usage.recording import UsageEntry, usage_record


def spend(tenant, usd: str, **fields):
    """One successful call of `usd` recorded today (or as `fields` say)."""
    return usage_record(
        entry=UsageEntry(
            tenant=tenant, feature="assist", provider="litellm", model="kbz-standard",
            status="success", cost_usd=Decimal(usd), **fields,
        )
    )  # fmt: skip


def refuse(tenant, *, error_code: str = "budget_exceeded", **fields):
    """One refused request (by the budget unless `error_code` says otherwise): its row."""
    return usage_record(
        entry=UsageEntry(
            tenant=tenant, feature="assist", provider="litellm", model="kbz-standard",
            status="blocked", error_code=error_code, **fields,
        )
    )  # fmt: skip


@pytest.fixture
def owner(make_user, tenant):
    return make_user("owner@ecomlg.test", tenant=tenant, role=Membership.Role.OWNER)


@pytest.fixture
def admin_member(make_user, tenant):
    return make_user("admin@ecomlg.test", tenant=tenant, role=Membership.Role.ADMIN)


@pytest.fixture
def webhook_for(db):
    def create(tenant, url: str) -> WebhookEndpoint:
        return WebhookEndpoint.objects.create(tenant=tenant, url=url)

    return create


@pytest.fixture
def deliver(db):
    """One `deliver_alerts --once` pass; returns what it printed."""

    def run(*args: str) -> str:
        out = StringIO()
        call_command("deliver_alerts", "--once", *args, stdout=out)
        return out.getvalue()

    return run

"""Alert emails: who gets them, what they say, and in which language."""

from unittest import mock

import pytest
from django.core import mail
from django.utils import translation

from alerts import emails
from alerts.models import AlertDelivery
from tenants.models import Membership
from tests.alerts.conftest import refuse, spend

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(tenant, owner, admin_member, member, staff, make_user):
    """An owner, an admin and an agent of the tenant; one active and one inactive staff user."""
    make_user("former@keybuzz.test", is_staff=True, is_active=False)


def by_recipients() -> dict[tuple, mail.EmailMessage]:
    return {tuple(message.to): message for message in mail.outbox}


def test_the_email_goes_to_owners_and_admins_and_staff_never_agents(people, tenant, deliver):
    # when a call passes 80 % and the alerts are delivered
    spend(tenant, "8.5")
    deliver()
    # then owners and admins get one email, active staff another, agents none
    assert set(by_recipients()) == {
        ("admin@ecomlg.test", "owner@ecomlg.test"), ("support@keybuzz.test",),
    }  # fmt: skip
    assert AlertDelivery.objects.get().status == "sent"


def test_the_email_names_the_tenant_threshold_spend_and_budget(people, tenant, deliver):
    spend(tenant, "8.5")
    deliver()
    message = by_recipients()[("support@keybuzz.test",)]
    assert message.subject == "[KeyBuzz AI] ecomlg-001 has used 80% of its daily AI budget"
    assert "ecomlg-001 (ecomlg-001) has used 80% of its daily AI budget for" in message.body
    assert "Spent so far: 8.50 USD" in message.body
    assert "Daily budget, top-ups included: 10.00 USD" in message.body
    assert message.extra_headers["X-KeyBuzz-Event-Id"].startswith("alert_")


def test_the_budget_reached_and_blocked_emails_say_so(people, tenant, deliver):
    spend(tenant, "9.9999")
    refuse(tenant)
    deliver()
    subjects = sorted(
        message.subject for message in mail.outbox if message.to == ["support@keybuzz.test"]
    )
    assert subjects == [
        "[KeyBuzz AI] ecomlg-001 has reached its daily AI budget",
        "[KeyBuzz AI] ecomlg-001 has used 80% of its daily AI budget",
        "[KeyBuzz AI] ecomlg-001: AI requests refused by the daily budget",
    ]


def test_the_tenant_copy_is_rendered_in_the_tenants_language_and_staffs_in_english(
    people, tenant, deliver
):
    # given a French-speaking tenant
    tenant.language = "fr"
    tenant.save()
    spend(tenant, "8.5")
    rendered_in = []
    render = emails.render_to_string

    def spy(template, context):
        rendered_in.append((template, context["for_staff"], translation.get_language()))
        return render(template, context)

    # when the alert is delivered
    with mock.patch("alerts.emails.render_to_string", side_effect=spy):
        deliver()
    # then the tenant's copy was rendered in French and says so; the staff copy in English
    assert rendered_in == [
        ("alerts/email_subject.txt", False, "fr"), ("alerts/email_body.txt", False, "fr"),
        ("alerts/email_subject.txt", True, "en"), ("alerts/email_body.txt", True, "en"),
    ]  # fmt: skip
    languages = {
        recipients: message.extra_headers["Content-Language"]
        for recipients, message in by_recipients().items()
    }
    assert languages == {("admin@ecomlg.test", "owner@ecomlg.test"): "fr",
                         ("support@keybuzz.test",): "en"}  # fmt: skip


def test_amounts_follow_the_tenants_language(people, tenant, deliver):
    tenant.language = "fr"
    tenant.save()
    spend(tenant, "8.5")
    deliver()
    body = by_recipients()[("admin@ecomlg.test", "owner@ecomlg.test")].body
    assert "8,50" in body and "10,00" in body  # French decimals, whatever the catalogue says


def test_alert_staff_emails_replaces_the_staff_users(people, tenant, deliver, settings):
    settings.KEYBUZZ = {**settings.KEYBUZZ, "ALERT_STAFF_EMAILS": ["oncall@keybuzz.test"]}
    spend(tenant, "8.5")
    deliver()
    assert ("oncall@keybuzz.test",) in by_recipients()
    assert ("support@keybuzz.test",) not in by_recipients()


def test_staff_who_are_also_the_tenants_admins_get_only_the_tenants_copy(
    tenant, owner, staff, deliver
):
    Membership.objects.create(user=staff, tenant=tenant, role="admin")
    spend(tenant, "8.5")
    deliver()
    assert list(by_recipients()) == [("owner@ecomlg.test", "support@keybuzz.test")]


def test_names_are_not_html_escaped_in_plain_text(people, make_tenant, make_user, deliver):
    shop = make_tenant("shop-1", name="Tom & Jerry's <Shop>")
    spend(shop, "8.5")
    deliver()
    (message,) = mail.outbox
    assert message.subject.endswith("Tom & Jerry's <Shop> has used 80% of its daily AI budget")


def test_an_alert_with_nobody_to_tell_is_dead_at_once(tenant, deliver):
    # given a tenant without owner or admin, and no staff at all
    spend(tenant, "8.5")
    deliver()
    delivery = AlertDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("dead", 1)
    assert delivery.last_error.startswith("no recipients")
    assert not mail.outbox

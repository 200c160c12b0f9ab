"""Alert emails: to the tenant's owners and admins in the tenant's language, and to staff in
English, through Django's email backend (EMAIL_URL)."""

from decimal import Decimal

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.template.loader import render_to_string
from django.utils import formats, translation

from tenants.models import Membership, Tenant, User

from .exceptions import Undeliverable
from .models import Alert

STAFF_LANGUAGE = "en"
EMAIL_TIMEOUT_SECONDS = 30  # when EMAIL_TIMEOUT is not set: an SMTP server must not hang us
ALERTED_ROLES = (Membership.Role.OWNER, Membership.Role.ADMIN)


def alert_email_send(*, alert: Alert) -> None:
    """Send the alert's emails: one to the tenant's owners and admins, one to staff (who are
    not also among the former). Raises Undeliverable when nobody is to be told."""
    tenant_recipients = _tenant_recipients(alert.tenant) if alert.tenant else []
    staff = [email for email in _staff_recipients() if email not in set(tenant_recipients)]
    messages = []
    if tenant_recipients:
        messages.append(_message(alert, tenant_recipients, alert.tenant.language, for_staff=False))
    if staff:
        messages.append(_message(alert, staff, STAFF_LANGUAGE, for_staff=True))
    if not messages:
        raise Undeliverable("no recipients: no tenant owner or admin, and no staff email")
    timeout = getattr(settings, "EMAIL_TIMEOUT", None) or EMAIL_TIMEOUT_SECONDS
    get_connection(timeout=timeout).send_messages(messages)


def _tenant_recipients(tenant: Tenant) -> list[str]:
    return sorted(
        {
            email.lower()
            for email in Membership.objects.filter(
                tenant=tenant, role__in=ALERTED_ROLES, user__is_active=True
            ).values_list("user__email", flat=True)
            if email
        }
    )


def _staff_recipients() -> list[str]:
    configured = settings.KEYBUZZ["ALERT_STAFF_EMAILS"]
    if configured:
        return sorted({email.strip().lower() for email in configured if email.strip()})
    return sorted(
        {
            email.lower()
            for email in User.objects.filter(is_staff=True, is_active=True).values_list(
                "email", flat=True
            )
            if email
        }
    )


def _message(alert: Alert, recipients: list[str], language: str, *, for_staff: bool):
    with translation.override(language):
        context = _context(alert, for_staff=for_staff)
        # One line, keeping French no-break spaces (str.split() would turn them into spaces).
        subject = " ".join(render_to_string("alerts/email_subject.txt", context).splitlines())
        subject = " ".join(part for part in subject.split(" ") if part)
        body = render_to_string("alerts/email_body.txt", context)
    return EmailMessage(
        subject,
        body,
        to=recipients,
        headers={"Content-Language": language, "X-KeyBuzz-Event-Id": alert.event_id},
    )


def _context(alert: Alert, *, for_staff: bool) -> dict:
    tenant = alert.tenant
    return {
        "kind": alert.kind,
        "for_staff": for_staff,
        "tenant_name": tenant.name if tenant else "",
        "tenant_id": tenant.id if tenant else "",
        "day": alert.day,
        "threshold": _number(alert.threshold) if alert.threshold is not None else "",
        "reached": alert.kind == Alert.Kind.BUDGET_PERCENT and alert.threshold >= 100,
        "spend": _number(alert.spend_usd, money=True),
        "budget": _number(alert.budget_usd, money=True) if alert.budget_usd is not None else "",
        "event_id": alert.event_id,
    }


def _number(value: Decimal, *, money: bool = False) -> str:
    """In the active language's format; money with cents, and every decimal it has."""
    places = max(0, -value.normalize().as_tuple().exponent)
    return formats.number_format(value, decimal_pos=max(places, 2) if money else places)

"""Cost alerts: the outbox (Alert, one row per threshold crossed per day, unique by its key),
its deliveries (one per channel, retried until sent or dead), the tenants' webhook endpoints
and the platform threshold.

Detection writes Alert and AlertDelivery rows in the transaction that records the usage, so
an alert exists if and only if the spend that crossed its threshold was committed. Sending
happens later, outside the request path (alerts.delivery, `manage.py deliver_alerts`).
"""

import secrets
import uuid
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, URLValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from keybuzz.outbound import OutboundAddressRefused, outbound_url_check

EVENT_ID_PREFIX = "alert_"


class Alert(models.Model):
    """A threshold passed on one day. `key` makes it unique: concurrent crossings of the same
    threshold insert one row, the others' inserts do nothing."""

    class Kind(models.TextChoices):
        BUDGET_PERCENT = "budget_percent", _("budget threshold passed")
        BUDGET_BLOCKED = "budget_blocked", _("blocked by the budget")
        PLATFORM_SPEND = "platform_spend", _("platform spend threshold passed")

    id = models.UUIDField(_("ID"), primary_key=True, default=uuid.uuid4, editable=False)
    key = models.CharField(
        _("key"),
        max_length=200,
        unique=True,
        help_text=_("<tenant id or 'platform'>:<day>:<kind>:<threshold>: one alert each."),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    tenant = models.ForeignKey(
        "tenants.Tenant",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="alerts",
        verbose_name=_("tenant"),
        help_text=_("Empty for a platform alert."),
    )
    day = models.DateField(
        _("day"), help_text=_("The tenant's local day; for the platform, AI_BUDGET_TIMEZONE's.")
    )
    threshold = models.DecimalField(
        _("threshold"),
        max_digits=14,
        decimal_places=6,
        null=True,
        blank=True,
        help_text=_("A percent of the budget, or USD for the platform; empty when blocked."),
    )
    spend_usd = models.DecimalField(_("spend (USD)"), max_digits=14, decimal_places=6)
    budget_usd = models.DecimalField(
        _("budget (USD)"),
        max_digits=14,
        decimal_places=6,
        null=True,
        blank=True,
        help_text=_("The day's budget, top-ups included, when the alert was raised."),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        indexes = [models.Index(fields=["tenant", "day"], name="alert_tenant_day")]

    def __str__(self) -> str:
        return self.key

    @property
    def event_id(self) -> str:
        """The id receivers dedupe by: the same on every attempt and every channel."""
        return f"{EVENT_ID_PREFIX}{self.id.hex}"


class AlertDelivery(models.Model):
    """The outbox: one channel's delivery of an alert, or one callback (an Autopilot job's
    final state, posted to its own URL); pending until sent (never sent again) or dead."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("email")
        WEBHOOK = "webhook", _("webhook")
        CALLBACK = "callback", _("callback")

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SENT = "sent", _("sent")
        DEAD = "dead", _("dead")

    alert = models.ForeignKey(
        Alert,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="deliveries",
        verbose_name=_("alert"),
        help_text=_("Empty for a callback."),
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    # A callback carries what it posts: to whom, where, the body, and its delivery id.
    tenant = models.ForeignKey(
        "tenants.Tenant",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("tenant"),
        help_text=_("A callback's tenant, whose webhook secret signs it."),
    )
    url = models.URLField(_("URL"), max_length=500, blank=True)
    body = models.TextField(_("body"), blank=True)
    event_id = models.CharField(
        _("event ID"),
        max_length=100,
        blank=True,
        help_text=_("A callback's delivery id, the same on every attempt."),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    claimed_until = models.DateTimeField(
        _("claimed until"),
        null=True,
        blank=True,
        help_text=_("A sender is on it until then; after that another sender may retry it."),
    )
    last_error = models.TextField(_("last error"), blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta:
        ordering = ["alert", "channel"]
        verbose_name = _("alert delivery")
        verbose_name_plural = _("alert deliveries")
        constraints = [
            models.UniqueConstraint(fields=["alert", "channel"], name="alert_delivery_channel"),
            models.CheckConstraint(
                condition=(
                    models.Q(channel="callback", alert__isnull=True, tenant__isnull=False)
                    | (~models.Q(channel="callback") & models.Q(alert__isnull=False))
                ),
                name="alert_delivery_alert_or_callback",
            ),
        ]
        indexes = [
            # What deliver_alerts looks for: pending deliveries that are due.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="alert_delivery_due",
            )
        ]

    def __str__(self) -> str:
        return f"{self.alert_id or self.event_id} {self.channel}: {self.status}"


def webhook_secret_new() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


class WebhookEndpoint(models.Model):
    """Where a tenant's alerts are POSTed, signed with its secret (docs/ALERTS.md)."""

    tenant = models.OneToOneField(
        "tenants.Tenant",
        on_delete=models.CASCADE,
        related_name="webhook_endpoint",
        verbose_name=_("tenant"),
    )
    url = models.URLField(
        _("URL"),
        max_length=500,
        validators=[URLValidator(schemes=["http", "https"])],
        help_text=_("An http or https URL; redirects are not followed."),
    )
    secret = models.CharField(
        _("signing secret"), max_length=100, default=webhook_secret_new, editable=False
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self) -> str:
        return f"{self.tenant_id} → {self.url}"

    def clean(self) -> None:
        # CONTRACT §9: a URL reaching a non-public address is refused when it is saved (every
        # delivery checks again). An empty URL already has the field's own error.
        if not self.url:
            return
        try:
            outbound_url_check(self.url)
        except OutboundAddressRefused as refusal:
            raise ValidationError({"url": str(refusal)}) from refusal


class AlertSettings(models.Model):
    """The platform-wide alert settings: exactly one row, id 1, created by a migration."""

    SINGLETON_ID = 1

    id = models.PositiveSmallIntegerField(
        _("ID"), primary_key=True, default=SINGLETON_ID, editable=False
    )
    platform_daily_usd = models.DecimalField(
        _("platform daily spend threshold (USD)"),
        max_digits=14,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.000001"))],
        help_text=_(
            "Staff are emailed once a day when the whole platform's spend today (in "
            "AI_BUDGET_TIMEZONE) reaches it. Empty: off."
        ),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("alert settings")
        verbose_name_plural = _("alert settings")
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="alert_settings_singleton")
        ]

    def __str__(self) -> str:
        return str(_("Alert settings"))

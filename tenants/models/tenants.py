from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _

from ..route_tables import RouteRule, route_rules_parse, validate_route_rules
from .prices import ModelPrice

money_validators = [MinValueValidator(Decimal("0"))]
MAX_ALERT_PERCENTS = 5


def default_alert_percents() -> list[int]:
    return [80, 100]


def validate_alert_percents(value) -> None:
    """Budget alert thresholds: 1 to 5 distinct percents of the daily budget, each in (0, 100]."""
    if value is None:
        return
    numbers = isinstance(value, list) and all(
        isinstance(item, int | float) and not isinstance(item, bool) for item in value
    )
    if not numbers or not 1 <= len(value) <= MAX_ALERT_PERCENTS:
        raise ValidationError(
            _("Give a list of 1 to %(max)s percents, e.g. [80, 100]."),
            params={"max": MAX_ALERT_PERCENTS},
        )
    if any(not 0 < item <= 100 for item in value):
        raise ValidationError(_("Each percent must be above 0 and at most 100."))
    if len({Decimal(str(item)) for item in value}) != len(value):
        raise ValidationError(_("The percents must be distinct."))


def local_day(moment: datetime | None = None, zone: ZoneInfo | None = None) -> date:
    """The calendar day at `moment` (now by default) in `zone` (by default AI_BUDGET_TIMEZONE,
    the platform's day): the day a budget, a rollup and a purge count in."""
    zone = zone or ZoneInfo(settings.KEYBUZZ["AI_BUDGET_TIMEZONE"])
    return (moment or now()).astimezone(zone).date()


def validate_timezone(name: str) -> None:
    if not name:
        return
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(
            f"'{name}' is not an IANA timezone name (e.g. Europe/Paris)."
        ) from exc


class Plan(models.Model):
    """A subscription plan: which model a tenant's calls use and how much it may spend a day."""

    code = models.CharField(_("code"), max_length=32, primary_key=True)
    name = models.CharField(_("name"), max_length=100)
    daily_budget_usd = models.DecimalField(
        _("daily budget (USD)"), max_digits=12, decimal_places=6, validators=money_validators
    )
    model = models.ForeignKey(
        "tenants.ModelPrice",
        on_delete=models.PROTECT,
        db_column="model",
        related_name="plans",
        verbose_name=_("model"),
        help_text=_("The LiteLLM model alias this plan's calls use."),
    )
    fallback_model = models.CharField(
        _("fallback model"),
        max_length=100,
        blank=True,
        help_text=_("Label of the fallback configured in LiteLLM."),
    )
    requests_per_minute = models.PositiveIntegerField(
        _("requests per minute"),
        default=60,
        validators=[MinValueValidator(1), MaxValueValidator(60_000)],
        help_text=_(
            "Assist requests a tenant may make per minute (a burst of this many, then "
            "one every 60/N seconds)."
        ),
    )
    autopilot_enabled = models.BooleanField(
        _("Autopilot enabled"),
        default=False,
        help_text=_("Whether the plan's tenants may queue Autopilot jobs."),
    )
    autopilot_concurrency = models.PositiveIntegerField(
        _("Autopilot concurrency"),
        default=4,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
        help_text=_("At most this many Autopilot jobs of one tenant run at once."),
    )
    route_rules = models.JSONField(
        _("route table"),
        default=list,
        blank=True,
        validators=[validate_route_rules],
        help_text=_(
            "Ordered rules, first match wins, then the plan's model (docs/CONSOLE.md). A JSON "
            'list such as [{"name":"fast replies","quality":["fast"],"target":"kbz-cheap"}, '
            '{"name":"budget low","budgetLeftBelowPercent":20,"target":"kbz-cheap"}]. '
            "Conditions: feature, quality, minBytes, maxBytes, budgetLeftBelowPercent."
        ),
    )
    alert_percents = models.JSONField(
        _("alert percents"),
        default=default_alert_percents,
        validators=[validate_alert_percents],
        help_text=_(
            "Percents of the daily budget (top-ups included) whose first crossing in a day "
            "alerts the tenant's owners and admins and staff: a JSON list such as [80, 100]."
        ),
    )

    class Meta:
        verbose_name = _("plan")
        verbose_name_plural = _("plans")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(requests_per_minute__gte=1),
                name="plan_requests_per_minute_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(autopilot_concurrency__gte=1),
                name="plan_autopilot_concurrency_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Every alias the route table names must have a price (and so be callable)."""
        super().clean()
        try:
            targets = {rule.target for rule in route_rules_parse(self.route_rules)}
        except ValidationError:
            return  # the field's own validator reports it
        known = set(ModelPrice.objects.filter(alias__in=targets).values_list("alias", flat=True))
        if unknown := sorted(targets - known):
            raise ValidationError(
                {"route_rules": _("Unknown model alias(es): %(aliases)s.")
                 % {"aliases": ", ".join(unknown)}}
            )  # fmt: skip

    @property
    def route_table(self) -> list[RouteRule]:
        """The route table's rules (validated on save)."""
        return route_rules_parse(self.route_rules)


class Tenant(models.Model):
    """A customer account (an e-commerce seller) whose users ask for AI suggestions."""

    class Language(models.TextChoices):
        EN = "en", "English"
        FR = "fr", "Français"

    id = models.CharField(
        _("ID"),
        max_length=64,
        primary_key=True,
        validators=[
            RegexValidator(
                r"^[a-z0-9][a-z0-9._-]{0,63}$",
                "Use lower-case letters, digits, '.', '_' or '-' (e.g. ecomlg-001).",
            )
        ],
    )
    name = models.CharField(_("name"), max_length=200)
    plan = models.ForeignKey(
        Plan, on_delete=models.PROTECT, related_name="tenants", verbose_name=_("plan")
    )
    timezone = models.CharField(
        _("time zone"),
        max_length=64,
        blank=True,
        validators=[validate_timezone],
        help_text=_("IANA name; its days bound the daily budget. Empty: AI_BUDGET_TIMEZONE."),
    )
    language = models.CharField(
        _("language"), max_length=2, choices=Language.choices, default=Language.EN
    )
    is_active = models.BooleanField(_("active"), default=True)
    daily_budget_override = models.DecimalField(
        _("daily budget override (USD)"),
        max_digits=12,
        decimal_places=6,
        null=True,
        blank=True,
        validators=money_validators,
        help_text=_("Replaces the plan's daily budget for this tenant when set."),
    )
    alert_percents = models.JSONField(
        _("alert percents"),
        null=True,
        blank=True,
        validators=[validate_alert_percents],
        help_text=_(
            "Replaces the plan's alert percents for this tenant when set: a JSON list such as "
            "[50, 90, 100], or [] for none; empty: the plan's."
        ),
    )
    created_at = models.DateTimeField(_("created at"), default=now)

    class Meta:
        ordering = ["id"]
        verbose_name = _("tenant")
        verbose_name_plural = _("tenants")

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"

    @property
    def daily_budget(self) -> Decimal:
        if self.daily_budget_override is not None:
            return self.daily_budget_override
        return self.plan.daily_budget_usd

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone or settings.KEYBUZZ["AI_BUDGET_TIMEZONE"])

    def local_day(self, moment: datetime | None = None) -> date:
        """The tenant's calendar day at `moment` (now by default): the budget's day."""
        return local_day(moment, self.zone)

    def day_start(self, moment: datetime | None = None) -> datetime:
        """When the tenant's calendar day at `moment` (now by default) started."""
        return datetime.combine(self.local_day(moment), time.min, tzinfo=self.zone)

    def next_day_start(self, moment: datetime | None = None) -> datetime:
        """When the tenant's next calendar day (and budget) starts after `moment`."""
        following = self.local_day(moment) + timedelta(days=1)
        return datetime.combine(following, time.min, tzinfo=self.zone)


class Membership(models.Model):
    """A user's place in a tenant. Roles share API rights; they differ for alerts and members."""

    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        ADMIN = "admin", _("Admin")
        AGENT = "agent", _("Agent")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="memberships",
        verbose_name=_("user"),
    )
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("tenant")
    )
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.AGENT)
    created_at = models.DateTimeField(_("created at"), default=now)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "tenant"], name="membership_user_tenant_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.tenant_id} ({self.role})"

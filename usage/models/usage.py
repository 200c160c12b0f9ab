from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AIUsage(models.Model):
    """One row per assist request that got past the tenant check: the accounting of record.

    Table and column names are the seed's (`ai_usage`); rows are written only by
    usage.recording, so everything derived from them stays in step.
    """

    class Feature(models.TextChoices):
        ASSIST = "assist", _("Assist")
        AUTOPILOT = "autopilot", _("Autopilot")
        JOURNAL = "journal", _("Journal")

    class Provider(models.TextChoices):
        LITELLM = "litellm", "LiteLLM"  # a product's name: not translated
        FALLBACK = "fallback", _("Fallback")
        MOCK = "mock", _("Mock")  # synthetic data only

    class Status(models.TextChoices):
        SUCCESS = "success", _("Success")
        BLOCKED = "blocked", _("Blocked")
        ERROR = "error", _("Error")

    id = models.CharField(_("ID"), max_length=64, primary_key=True)
    tenant = models.ForeignKey(
        "tenants.Tenant",
        on_delete=models.PROTECT,
        db_column="tenant_id",
        related_name="+",
        verbose_name=_("tenant"),
        # ai_usage_tenant_created leads with tenant_id and serves every lookup by tenant; an
        # index of its own would only cost each call's insert (docs/PERFORMANCE.md).
        db_index=False,
    )
    user_id = models.CharField(_("user ID"), max_length=64, null=True, blank=True)
    feature = models.CharField(_("feature"), max_length=20, choices=Feature.choices)
    provider = models.CharField(_("provider"), max_length=20, choices=Provider.choices)
    model = models.CharField(_("model"), max_length=100)
    prompt_tokens = models.IntegerField(_("prompt tokens"), default=0)
    completion_tokens = models.IntegerField(_("completion tokens"), default=0)
    total_tokens = models.IntegerField(_("total tokens"), default=0)
    cost_usd_est = models.DecimalField(
        _("estimated cost (USD)"), max_digits=10, decimal_places=6, default=0
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.SUCCESS
    )
    error_code = models.CharField(_("error code"), max_length=64, null=True, blank=True)
    request_id = models.CharField(_("request ID"), max_length=128, null=True, blank=True)
    created_at = models.DateTimeField(
        _("created at"), default=timezone.now, help_text=_("Admission time.")
    )
    # Routing (CONTRACT §8): the plan's default model, why `model` was called instead (or
    # `default`), the max_tokens sent, and the model LiteLLM says answered.
    # A database default too: writers other than usage.recording (none in the code, but SQL by
    # hand) get a row that reads as an unrouted call.
    default_model = models.CharField(
        _("default model"), max_length=100, blank=True, default="", db_default=""
    )
    route_reason = models.CharField(
        _("route reason"), max_length=20, default="default", db_default="default"
    )
    max_tokens = models.IntegerField(_("max tokens"), null=True, blank=True)
    upstream_model = models.CharField(
        _("upstream model"), max_length=200, blank=True, default="", db_default=""
    )

    class Meta:
        db_table = "ai_usage"
        verbose_name = _("AI usage row")
        verbose_name_plural = _("AI usage rows")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["tenant", "created_at"], name="ai_usage_tenant_created"),
            models.Index(fields=["request_id"], name="ai_usage_request_id"),
            # The console's "last 24 hours" and its newest-first lists; status is carried in
            # the index (PostgreSQL) so counting a day's calls by status reads no table pages.
            models.Index(fields=["created_at"], include=["status"], name="ai_usage_created"),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.feature} {self.status} ${self.cost_usd_est}"


class UsageRollup(models.Model):
    """Calls, tokens and cost per tenant, local day, feature, model and status.

    Written by usage.recording in the transaction that inserts the ai_usage rows, so it is exact
    by construction; the analytics endpoints read only these, never the rows.
    """

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.CASCADE, related_name="+", verbose_name=_("tenant")
    )
    day = models.DateField(_("day"), help_text=_("The tenant's local calendar day."))
    feature = models.CharField(_("feature"), max_length=20)
    model = models.CharField(_("model"), max_length=100)
    status = models.CharField(_("status"), max_length=10)
    calls = models.BigIntegerField(_("calls"), default=0)
    tokens = models.BigIntegerField(_("tokens"), default=0)
    cost_micros = models.BigIntegerField(_("cost (µUSD)"), default=0, help_text=_("Micro-dollars."))
    saved_micros = models.BigIntegerField(
        _("saved (µUSD)"),
        default=0,
        help_text=_(
            "What successful calls would have cost at the default model, less their cost, at "
            "the prices of their admission (a rebuild recounts it at today's prices)."
        ),
    )

    class Meta:
        verbose_name = _("usage rollup")
        verbose_name_plural = _("usage rollups")
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "day", "feature", "model", "status"], name="usage_rollup_key"
            )
        ]
        indexes = [models.Index(fields=["day"], name="usage_rollup_day")]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.day} {self.feature}/{self.model}/{self.status}"


class UsagePurge(models.Model):
    """A retention run: rows of local days before `before` were deleted, their rollups kept.

    Rebuilding rollups never touches days before the latest purge, whose rows are gone.
    """

    before = models.DateField(_("before"))
    rows_deleted = models.BigIntegerField(_("rows deleted"))
    purged_at = models.DateTimeField(_("purged at"), default=timezone.now)

    class Meta:
        verbose_name = _("usage purge")
        verbose_name_plural = _("usage purges")

    def __str__(self) -> str:
        return _("purged before %(day)s (%(rows)s rows)") % {
            "day": self.before,
            "rows": self.rows_deleted,
        }

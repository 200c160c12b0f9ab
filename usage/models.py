from django.db import models
from django.utils import timezone


class AIUsage(models.Model):
    """One row per assist request that got past the tenant check: the accounting of record.

    Table and column names are the seed's (`ai_usage`); rows are written only by
    usage.services, so everything derived from them stays in step.
    """

    class Feature(models.TextChoices):
        ASSIST = "assist"
        AUTOPILOT = "autopilot"
        JOURNAL = "journal"

    class Provider(models.TextChoices):
        LITELLM = "litellm"
        FALLBACK = "fallback"
        MOCK = "mock"  # synthetic data only

    class Status(models.TextChoices):
        SUCCESS = "success"
        BLOCKED = "blocked"
        ERROR = "error"

    id = models.CharField(max_length=64, primary_key=True)
    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, db_column="tenant_id", related_name="+"
    )
    user_id = models.CharField(max_length=64, null=True, blank=True)
    feature = models.CharField(max_length=20, choices=Feature.choices)
    provider = models.CharField(max_length=20, choices=Provider.choices)
    model = models.CharField(max_length=100)
    prompt_tokens = models.IntegerField(default=0)
    completion_tokens = models.IntegerField(default=0)
    total_tokens = models.IntegerField(default=0)
    cost_usd_est = models.DecimalField(max_digits=10, decimal_places=6, default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SUCCESS)
    error_code = models.CharField(max_length=64, null=True, blank=True)
    request_id = models.CharField(max_length=128, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, help_text="Admission time.")

    class Meta:
        db_table = "ai_usage"
        verbose_name = "AI usage row"
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

    Written by usage.services in the transaction that inserts the ai_usage rows, so it is exact
    by construction; the analytics endpoints read only these, never the rows.
    """

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    day = models.DateField(help_text="The tenant's local calendar day.")
    feature = models.CharField(max_length=20)
    model = models.CharField(max_length=100)
    status = models.CharField(max_length=10)
    calls = models.BigIntegerField(default=0)
    tokens = models.BigIntegerField(default=0)
    cost_micros = models.BigIntegerField(default=0, help_text="Micro-dollars.")

    class Meta:
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

    before = models.DateField()
    rows_deleted = models.BigIntegerField()
    purged_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"purged before {self.before} ({self.rows_deleted} rows)"

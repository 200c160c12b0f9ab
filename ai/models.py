from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import connection, models
from django.utils import timezone


class ModelPrice(models.Model):
    """What one LiteLLM model alias costs. A change applies to calls admitted after it."""

    alias = models.CharField(max_length=100, primary_key=True)
    input_usd_per_million = models.DecimalField(
        max_digits=12, decimal_places=6, validators=[MinValueValidator(Decimal("0"))]
    )
    output_usd_per_million = models.DecimalField(
        max_digits=12, decimal_places=6, validators=[MinValueValidator(Decimal("0"))]
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.alias


class AIGlobalSettings(models.Model):
    """The platform-wide kill switch: exactly one row, id 1, created by a migration."""

    SINGLETON_ID = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_ID, editable=False)
    global_kill_switch = models.BooleanField(default=False, help_text="On: AI off for everyone.")
    reason = models.TextField(blank=True)
    updated_by = models.CharField(max_length=254, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "ai_global_settings"
        verbose_name = "global AI settings"
        verbose_name_plural = "global AI settings"
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="ai_global_settings_singleton")
        ]

    def __str__(self) -> str:
        return "Global AI settings"


class AISettings(models.Model):
    """A tenant's own kill switch; one row per tenant, created with the tenant."""

    tenant = models.OneToOneField(
        "tenants.Tenant",
        on_delete=models.CASCADE,
        db_column="tenant_id",
        related_name="ai_settings",
    )
    kill_switch = models.BooleanField(default=False, help_text="On: AI off for this tenant.")
    reason = models.TextField(blank=True)
    updated_by = models.CharField(max_length=254, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "ai_settings"
        verbose_name = "tenant AI settings"
        verbose_name_plural = "tenant AI settings"

    def __str__(self) -> str:
        return f"AI settings of {self.tenant_id}"


class KillSwitchChange(models.Model):
    """The audit trail of kill switches: who turned which one, when, why, from what to what."""

    tenant = models.ForeignKey(
        "tenants.Tenant",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="kill_switch_changes",
        help_text="Empty for the global switch.",
    )
    old_value = models.BooleanField()
    new_value = models.BooleanField()
    reason = models.TextField()
    changed_by = models.CharField(max_length=254)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-changed_at"]

    def __str__(self) -> str:
        scope = self.tenant_id or "global"
        return f"{scope}: {self.old_value} → {self.new_value} by {self.changed_by}"


class BudgetCounterManager(models.Manager):
    """The two atomic writes of the hard cap; each is one statement, so concurrent callers in
    any number of processes serialize on the counter row and cannot both pass the check."""

    def reserve_within(self, *, tenant_id: str, day, amount: int, budget: int) -> bool:
        """Add `amount` to reserved if spent + reserved + amount stays within `budget`."""
        if amount > budget:  # a new row is inserted without the WHERE check below
            return False
        table = self.model._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                self._add_to("reserved_micros")
                + f"WHERE {table}.spent_micros + {table}.reserved_micros "
                f"+ excluded.reserved_micros <= %s RETURNING id",
                [tenant_id, day, 0, amount, budget],
            )
            return cursor.fetchone() is not None

    def add_spent(self, *, tenant_id: str, day, amount: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute(self._add_to("spent_micros"), [tenant_id, day, amount, 0])

    def _add_to(self, column: str) -> str:
        """INSERT the tenant-day's row, or add the new row's `column` to the existing one."""
        table = self.model._meta.db_table
        return (
            f"INSERT INTO {table} (tenant_id, day, spent_micros, reserved_micros) "  # noqa: S608
            f"VALUES (%s, %s, %s, %s) ON CONFLICT (tenant_id, day) DO UPDATE "
            f"SET {column} = {table}.{column} + excluded.{column} "
        )

    def release(self, *, tenant_id: str, day, amount: int) -> None:
        self.filter(tenant_id=tenant_id, day=day).update(
            reserved_micros=models.F("reserved_micros") - amount
        )


class BudgetCounter(models.Model):
    """What a tenant has spent and holds in flight on one local day: the hard cap's one row.

    Amounts are integer micro-dollars (the precision of ai_usage.cost_usd_est), so the
    conditional update that admits a request compares exact integers on every database (SQLite
    would compare decimals as floats). `spent` always equals the day's Σ cost_usd_est:
    only usage.services adds to it, in the transaction that writes the rows.
    """

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    day = models.DateField(help_text="The tenant's local calendar day.")
    spent_micros = models.BigIntegerField(default=0)
    reserved_micros = models.BigIntegerField(default=0)

    objects = BudgetCounterManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "day"], name="budget_counter_tenant_day"),
            models.CheckConstraint(
                condition=models.Q(spent_micros__gte=0, reserved_micros__gte=0),
                name="budget_counter_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.day}: spent {self.spent_micros}µ$"


class Reservation(models.Model):
    """Budget held by one call in flight, from admission until it is settled or released.

    It carries what its ai_usage row will need, so that a reservation whose process died can
    still be closed as one `abandoned` row at its worst-case cost.
    """

    id = models.CharField(max_length=64, primary_key=True)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    amount_micros = models.BigIntegerField(help_text="The call's worst-case cost.")
    created_at = models.DateTimeField(help_text="Admission time; the usage row keeps it.")
    expires_at = models.DateTimeField(db_index=True)
    request_id = models.CharField(max_length=128)
    user_id = models.CharField(max_length=64, blank=True)
    feature = models.CharField(max_length=20)
    provider = models.CharField(max_length=20)
    model = models.CharField(max_length=100)

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.amount_micros}µ$ until {self.expires_at:%H:%M:%S}"


class RateLimitStateManager(models.Manager):
    def take(self, *, tenant_id: str, now: int, interval: int, burst: int) -> tuple[int, bool]:
        """Admit one request at `now` if the tenant's bucket has room; one statement.

        GCRA: the row holds the tenant's theoretical arrival time (TAT). A request moves it to
        max(TAT, now) + interval, and is admitted if that stays within `burst` of now; a refusal
        leaves it where it was. The row lock of the upsert serializes concurrent callers in
        every process. Returns the TAT after the statement and whether the request was admitted.
        Times are integer microseconds, so both databases compute exactly.
        """
        table = self.model._meta.db_table
        tat = f"{table}.tat_micros"
        after = f"(CASE WHEN {tat} > %(now)s THEN {tat} ELSE %(now)s END + %(interval)s)"
        admits = f"{after} - %(now)s <= %(burst)s"
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (tenant_id, tat_micros, admitted) "  # noqa: S608
                f"VALUES (%(tenant)s, %(now)s + %(interval)s, %(admitted)s) "
                f"ON CONFLICT (tenant_id) DO UPDATE SET "
                f"tat_micros = CASE WHEN {admits} THEN {after} ELSE {tat} END, "
                f"admitted = {admits} "
                f"RETURNING tat_micros, admitted",
                {
                    "tenant": tenant_id,
                    "now": now,
                    "interval": interval,
                    "burst": burst,
                    "admitted": True,
                },
            )
            tat, admitted = cursor.fetchone()
        return tat, bool(admitted)


class RateLimitState(models.Model):
    """A tenant's request rate limiter: one row per tenant, whatever the traffic or the time.

    `admitted` is the verdict of the latest request, written by the same statement that moved
    (or kept) the arrival time, so that statement can return it.
    """

    tenant = models.OneToOneField(
        "tenants.Tenant", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    tat_micros = models.BigIntegerField(
        help_text="Theoretical arrival time, µs since the Unix epoch (GCRA)."
    )
    admitted = models.BooleanField(default=True)

    objects = RateLimitStateManager()

    def __str__(self) -> str:
        return f"rate limit of {self.tenant_id}"


class IdempotencyKeyManager(models.Manager):
    def claim(self, *, tenant_id: str, key: str, request_hash: str, holder: str, request_id: str,
              claimed_at) -> int | None:  # fmt: skip
        """Insert the key for this request unless any request holds it, and return its id;
        one statement, so two requests with the same key in any processes cannot both claim it."""
        table, key_column = self.model._meta.db_table, connection.ops.quote_name("key")
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (tenant_id, {key_column}, request_hash, holder, "  # noqa: S608
                f"request_id, claimed_at, response_body) VALUES (%s, %s, %s, %s, %s, %s, '') "
                f"ON CONFLICT (tenant_id, {key_column}) DO NOTHING RETURNING id",
                [tenant_id, key, request_hash, holder, request_id,
                 connection.ops.adapt_datetimefield_value(claimed_at)],
            )  # fmt: skip
            row = cursor.fetchone()
        return row[0] if row else None


class IdempotencyKey(models.Model):
    """An Idempotency-Key of POST /ai/assist: held while its first request runs, then the
    request's 200 answer, replayed to every retry for 24 hours (ai/idempotency.py)."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64, help_text="SHA-256 of the validated body.")
    holder = models.CharField(
        max_length=32, help_text="Token of the request that holds the key (compare-and-set)."
    )
    request_id = models.CharField(max_length=128)
    claimed_at = models.DateTimeField(db_index=True)
    response_body = models.TextField(blank=True, help_text="The stored 200 answer (JSON).")
    completed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the answer was stored; empty while in flight."
    )

    objects = IdempotencyKeyManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "key"], name="idempotency_key_tenant_key")
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.key}"

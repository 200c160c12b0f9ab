"""The per-tenant request rate limiter's state."""

from django.db import connection, models
from django.utils.translation import gettext_lazy as _


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
        "tenants.Tenant",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="+",
        verbose_name=_("tenant"),
    )
    tat_micros = models.BigIntegerField(
        _("theoretical arrival time (µs)"),
        help_text=_("Theoretical arrival time, µs since the Unix epoch (GCRA)."),
    )
    admitted = models.BooleanField(_("admitted"), default=True)

    objects = RateLimitStateManager()

    class Meta:
        verbose_name = _("rate limit state")
        verbose_name_plural = _("rate limit states")

    def __str__(self) -> str:
        return _("rate limit of %(tenant)s") % {"tenant": self.tenant_id}

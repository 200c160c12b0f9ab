"""The hard cap's rows: a counter per tenant-day, a reservation per call in flight, and the
one-day top-ups support grants."""

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import connection, models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class BudgetCounterManager(models.Manager):
    """The counter's atomic additions, one statement each, so concurrent writers in any number
    of processes serialize on the row. The admission, the one write that checks the budget
    rule, is usage.budget.admission's."""

    def add_spent(self, *, tenant_id: str, day, amount: int, released: int = 0) -> tuple[int, int]:
        """Add `amount` to the day's spend and take `released` (a settled reservation's hold)
        off what is reserved, in one statement; returns the row's new (spent, granted), read in
        the same statement, so that cost alerts see exactly what this write moved the spend
        from and to (concurrent writers serialize on the row)."""
        table = self.model._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                self._add_to("spent_micros")
                + f", reserved_micros = {table}.reserved_micros - %s "
                + "RETURNING spent_micros, granted_micros",
                [tenant_id, day, amount, 0, 0, released],
            )
            spent, granted = cursor.fetchone()
        return spent, granted

    def add_granted(self, *, tenant_id: str, day, amount: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute(self._add_to("granted_micros"), [tenant_id, day, 0, 0, amount])

    def _add_to(self, column: str) -> str:
        """INSERT the tenant-day's row, or add the new row's `column` to the existing one."""
        table = self.model._meta.db_table
        return (
            f"INSERT INTO {table} (tenant_id, day, spent_micros, reserved_micros, "  # noqa: S608
            f"granted_micros, admitted_micros) VALUES (%s, %s, %s, %s, %s, 0) "
            "ON CONFLICT (tenant_id, day) "
            f"DO UPDATE SET {column} = {table}.{column} + excluded.{column} "
        )


class BudgetCounter(models.Model):
    """What a tenant has spent and holds in flight on one local day: the hard cap's one row.

    Amounts are integer micro-dollars (the precision of ai_usage.cost_usd_est), so the
    conditional update that admits a request compares exact integers on every database (SQLite
    would compare decimals as floats). `spent` always equals the day's Σ cost_usd_est:
    only usage.recording adds to it, in the transaction that writes the rows.
    """

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.CASCADE, related_name="+", verbose_name=_("tenant")
    )
    day = models.DateField(_("day"), help_text=_("The tenant's local calendar day."))
    spent_micros = models.BigIntegerField(_("spent (µUSD)"), default=0)
    reserved_micros = models.BigIntegerField(_("reserved (µUSD)"), default=0)
    granted_micros = models.BigIntegerField(
        _("granted (µUSD)"),
        default=0,
        help_text=_("One-day top-ups granted by support (BudgetTopUp), on top of the budget."),
    )
    admitted_micros = models.BigIntegerField(
        _("last admitted (µUSD)"),
        default=0,
        help_text=_(
            "The hold of the day's latest admission: the admission statement returns it, so "
            "that the caller knows which of its candidate calls was admitted."
        ),
    )

    objects = BudgetCounterManager()

    class Meta:
        db_table = "ai_budgetcounter"  # created by the ai app, whose table it keeps
        verbose_name = _("budget counter")
        verbose_name_plural = _("budget counters")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "day"], name="budget_counter_tenant_day"),
            models.CheckConstraint(
                condition=models.Q(
                    spent_micros__gte=0, reserved_micros__gte=0, granted_micros__gte=0
                ),
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

    id = models.CharField(_("ID"), max_length=64, primary_key=True)
    tenant = models.ForeignKey(
        "tenants.Tenant",
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("tenant"),
        # Rows live only while their call is in flight: a scan of them is cheap, while an
        # index is written and dead-marked by every call (docs/PERFORMANCE.md).
        db_index=False,
    )
    day = models.DateField(_("day"))
    amount_micros = models.BigIntegerField(
        _("amount (µUSD)"), help_text=_("The call's worst-case cost.")
    )
    created_at = models.DateTimeField(
        _("created at"), help_text=_("Admission time; the usage row keeps it.")
    )
    expires_at = models.DateTimeField(_("expires at"), db_index=True)
    request_id = models.CharField(_("request ID"), max_length=128)
    user_id = models.CharField(_("user ID"), max_length=64, blank=True)
    feature = models.CharField(_("feature"), max_length=20)
    provider = models.CharField(_("provider"), max_length=20)
    model = models.CharField(_("model"), max_length=100)
    default_model = models.CharField(_("default model"), max_length=100, blank=True, default="")
    route_reason = models.CharField(_("route reason"), max_length=20, default="default")
    max_tokens = models.IntegerField(_("max tokens"), null=True, blank=True)

    class Meta:
        db_table = "ai_reservation"  # created by the ai app, whose table it keeps
        verbose_name = _("reservation")
        verbose_name_plural = _("reservations")

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.amount_micros}µ$ until {self.expires_at:%H:%M:%S}"


class BudgetTopUp(models.Model):
    """Extra budget granted to a tenant for one local day, with who and why: the audit trail of
    BudgetCounter.granted_micros, written in the same transaction (usage/top_ups.py)."""

    tenant = models.ForeignKey(
        "tenants.Tenant",
        on_delete=models.CASCADE,
        related_name="budget_top_ups",
        verbose_name=_("tenant"),
    )
    day = models.DateField(_("day"), help_text=_("The tenant's local day it applies to."))
    amount_usd = models.DecimalField(
        _("amount (USD)"),
        max_digits=10,
        decimal_places=6,
        validators=[MinValueValidator(Decimal("0.000001"))],
    )
    reason = models.TextField(_("reason"))
    granted_by = models.CharField(_("granted by"), max_length=254)
    granted_at = models.DateTimeField(_("granted at"), default=timezone.now)

    class Meta:
        db_table = "ai_budgettopup"  # created by the ai app, whose table it keeps
        ordering = ["-granted_at"]
        verbose_name = _("budget top-up")
        verbose_name_plural = _("budget top-ups")

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.day}: +${self.amount_usd}"

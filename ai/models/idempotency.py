"""Idempotency-Key claims and stored answers of POST /ai/assist."""

from django.db import connection, models
from django.utils.translation import gettext_lazy as _


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

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.CASCADE, related_name="+", verbose_name=_("tenant")
    )
    key = models.CharField(_("key"), max_length=255)
    request_hash = models.CharField(
        _("request hash"), max_length=64, help_text=_("SHA-256 of the validated body.")
    )
    holder = models.CharField(
        _("holder"),
        max_length=32,
        help_text=_("Token of the request that holds the key (compare-and-set)."),
    )
    request_id = models.CharField(_("request ID"), max_length=128)
    claimed_at = models.DateTimeField(_("claimed at"), db_index=True)
    response_body = models.TextField(
        _("response body"), blank=True, help_text=_("The stored 200 answer (JSON).")
    )
    completed_at = models.DateTimeField(
        _("completed at"),
        null=True,
        blank=True,
        help_text=_("When the answer was stored; empty while in flight."),
    )

    objects = IdempotencyKeyManager()

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "key"], name="idempotency_key_tenant_key")
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.key}"

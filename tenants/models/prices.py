"""What each LiteLLM model alias costs."""

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class ModelPrice(models.Model):
    """What one LiteLLM model alias costs. A call is priced at admission, so a change applies
    to calls admitted after it."""

    alias = models.CharField(_("model alias"), max_length=100, primary_key=True)
    input_usd_per_million = models.DecimalField(
        _("USD per 1M input tokens"),
        max_digits=12,
        decimal_places=6,
        validators=[MinValueValidator(Decimal("0"))],
    )
    output_usd_per_million = models.DecimalField(
        _("USD per 1M output tokens"),
        max_digits=12,
        decimal_places=6,
        validators=[MinValueValidator(Decimal("0"))],
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        db_table = "ai_modelprice"  # created by the ai app, whose table it keeps
        verbose_name = _("model price")
        verbose_name_plural = _("model prices")

    def __str__(self) -> str:
        return self.alias

"""What each LiteLLM model alias costs."""

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models


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

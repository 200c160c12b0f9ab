"""Serializer fields shared by the API's input serializers."""

from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers and booleans instead of turning them into text."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


def money_field(**kwargs) -> serializers.DecimalField:
    """USD as a JSON number with at most 6 decimals (CONTRACT §2: money is never a string)."""
    return serializers.DecimalField(
        max_digits=16, decimal_places=6, coerce_to_string=False, **kwargs
    )

"""The seed's model prices (USD per 1M tokens) and the one global AI settings row."""

from decimal import Decimal

from django.db import migrations

PRICES = {
    "kbz-cheap": ("0.15", "0.60"),
    "kbz-standard": ("3.00", "15.00"),
    "kbz-premium": ("2.50", "10.00"),
}


def seed(apps, schema_editor):
    ModelPrice = apps.get_model("ai", "ModelPrice")
    for alias, (input_price, output_price) in PRICES.items():
        ModelPrice.objects.get_or_create(
            alias=alias,
            defaults={
                "input_usd_per_million": Decimal(input_price),
                "output_usd_per_million": Decimal(output_price),
            },
        )
    AIGlobalSettings = apps.get_model("ai", "AIGlobalSettings")
    AIGlobalSettings.objects.get_or_create(id=1)


class Migration(migrations.Migration):
    dependencies = [("ai", "0002_tenant_links")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]

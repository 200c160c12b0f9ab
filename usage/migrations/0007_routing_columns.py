"""Routing's columns (CONTRACT §8). Rows written before routing called their plan's default
model at full size: their `default_model` is their `model`, their reason `default`, and they
saved nothing."""

from django.db import migrations, models

OLD_ROWS = [
    'UPDATE "ai_usage" SET "default_model" = "model" '
    """WHERE "default_model" = ''""",
    'UPDATE "ai_reservation" SET "default_model" = "model" WHERE "default_model" = \'\'',
]


class Migration(migrations.Migration):
    dependencies = [
        ("usage", "0006_ledger_from_ai"),
    ]

    operations = [
        migrations.AddField(
            model_name="aiusage",
            name="default_model",
            field=models.CharField(
                blank=True, db_default="", default="", max_length=100, verbose_name="default model"
            ),
        ),
        migrations.AddField(
            model_name="aiusage",
            name="max_tokens",
            field=models.IntegerField(blank=True, null=True, verbose_name="max tokens"),
        ),
        migrations.AddField(
            model_name="aiusage",
            name="route_reason",
            field=models.CharField(
                db_default="default", default="default", max_length=20, verbose_name="route reason"
            ),
        ),
        migrations.AddField(
            model_name="aiusage",
            name="upstream_model",
            field=models.CharField(
                blank=True, db_default="", default="", max_length=200, verbose_name="upstream model"
            ),
        ),
        migrations.AddField(
            model_name="budgetcounter",
            name="admitted_micros",
            field=models.BigIntegerField(
                default=0,
                help_text="The hold of the day's latest admission: the admission statement returns it, so that the caller knows which of its candidate calls was admitted.",
                verbose_name="last admitted (µUSD)",
            ),
        ),
        migrations.AddField(
            model_name="reservation",
            name="default_model",
            field=models.CharField(
                blank=True, default="", max_length=100, verbose_name="default model"
            ),
        ),
        migrations.AddField(
            model_name="reservation",
            name="max_tokens",
            field=models.IntegerField(blank=True, null=True, verbose_name="max tokens"),
        ),
        migrations.AddField(
            model_name="reservation",
            name="route_reason",
            field=models.CharField(default="default", max_length=20, verbose_name="route reason"),
        ),
        migrations.AddField(
            model_name="usagerollup",
            name="saved_micros",
            field=models.BigIntegerField(
                default=0,
                help_text="What successful calls would have cost at the default model, less their cost, at the prices of their admission (a rebuild recounts it at today's prices).",
                verbose_name="saved (µUSD)",
            ),
        ),
        migrations.RunSQL(OLD_ROWS, migrations.RunSQL.noop),
    ]

"""ModelPrice moves from ai to tenants, next to the plans that reference it; its table
(ai_modelprice) and rows stay. Runs after the console's staff groups, whose migration names
ai's permissions."""

from decimal import Decimal

import django.core.validators
import django.db.models.deletion
from django.db import migrations, models

MODELS = ["modelprice"]


def _relabel(apps, *, old: str, new: str) -> None:
    """Move the models' content types (and so their permissions and admin log entries, which
    point at them) from one app label to the other."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MODELS:
        ContentType.objects.filter(app_label=new, model=model).exclude(
            permission__isnull=False
        ).delete()  # an empty one created meanwhile by a post_migrate
        ContentType.objects.filter(app_label=old, model=model).update(app_label=new)


def content_types_relabel(apps, schema_editor):
    _relabel(apps, old="ai", new="tenants")


def content_types_relabel_back(apps, schema_editor):
    _relabel(apps, old="tenants", new="ai")


class Migration(migrations.Migration):
    dependencies = [
        ("ai", "0009_hot_path_indexes"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("console", "0001_staff_groups"),
        ("tenants", "0005_alert_percents"),
    ]

    operations = [
        # The tables stay where they are, with their rows: only Django's idea of which app
        # owns the models changes.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ModelPrice",
                    fields=[
                        (
                            "alias",
                            models.CharField(
                                max_length=100,
                                primary_key=True,
                                serialize=False,
                                verbose_name="model alias",
                            ),
                        ),
                        (
                            "input_usd_per_million",
                            models.DecimalField(
                                decimal_places=6,
                                max_digits=12,
                                validators=[django.core.validators.MinValueValidator(Decimal("0"))],
                                verbose_name="USD per 1M input tokens",
                            ),
                        ),
                        (
                            "output_usd_per_million",
                            models.DecimalField(
                                decimal_places=6,
                                max_digits=12,
                                validators=[django.core.validators.MinValueValidator(Decimal("0"))],
                                verbose_name="USD per 1M output tokens",
                            ),
                        ),
                        (
                            "updated_at",
                            models.DateTimeField(auto_now=True, verbose_name="updated at"),
                        ),
                    ],
                    options={
                        "verbose_name": "model price",
                        "verbose_name_plural": "model prices",
                        "db_table": "ai_modelprice",
                    },
                ),
                migrations.AlterField(
                    model_name="plan",
                    name="model",
                    field=models.ForeignKey(
                        db_column="model",
                        help_text="The LiteLLM model alias this plan's calls use.",
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="plans",
                        to="tenants.modelprice",
                        verbose_name="model",
                    ),
                ),
            ],
        ),
        migrations.RunPython(content_types_relabel, content_types_relabel_back),
    ]

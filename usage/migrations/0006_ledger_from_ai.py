"""BudgetCounter, Reservation and BudgetTopUp move from ai to usage, the spend ledger; their
tables (ai_budgetcounter, ai_reservation, ai_budgettopup) and rows stay. Runs after the
console's staff groups, whose migration names ai's permissions."""

from decimal import Decimal

import django.core.validators
import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

MODELS = ["budgetcounter", "reservation", "budgettopup"]


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
    _relabel(apps, old="ai", new="usage")


def content_types_relabel_back(apps, schema_editor):
    _relabel(apps, old="usage", new="ai")


class Migration(migrations.Migration):
    dependencies = [
        ("ai", "0009_hot_path_indexes"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("console", "0001_staff_groups"),
        ("tenants", "0006_model_price_from_ai"),
        ("usage", "0005_hot_path_indexes"),
    ]

    operations = [
        # The tables stay where they are, with their rows: only Django's idea of which app
        # owns the models changes.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="BudgetTopUp",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "day",
                            models.DateField(
                                help_text="The tenant's local day it applies to.",
                                verbose_name="day",
                            ),
                        ),
                        (
                            "amount_usd",
                            models.DecimalField(
                                decimal_places=6,
                                max_digits=10,
                                validators=[
                                    django.core.validators.MinValueValidator(Decimal("0.000001"))
                                ],
                                verbose_name="amount (USD)",
                            ),
                        ),
                        ("reason", models.TextField(verbose_name="reason")),
                        ("granted_by", models.CharField(max_length=254, verbose_name="granted by")),
                        (
                            "granted_at",
                            models.DateTimeField(
                                default=django.utils.timezone.now, verbose_name="granted at"
                            ),
                        ),
                        (
                            "tenant",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="budget_top_ups",
                                to="tenants.tenant",
                                verbose_name="tenant",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "budget top-up",
                        "verbose_name_plural": "budget top-ups",
                        "db_table": "ai_budgettopup",
                        "ordering": ["-granted_at"],
                    },
                ),
                migrations.CreateModel(
                    name="Reservation",
                    fields=[
                        (
                            "id",
                            models.CharField(
                                max_length=64, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("day", models.DateField(verbose_name="day")),
                        (
                            "amount_micros",
                            models.BigIntegerField(
                                help_text="The call's worst-case cost.",
                                verbose_name="amount (µUSD)",
                            ),
                        ),
                        (
                            "created_at",
                            models.DateTimeField(
                                help_text="Admission time; the usage row keeps it.",
                                verbose_name="created at",
                            ),
                        ),
                        (
                            "expires_at",
                            models.DateTimeField(db_index=True, verbose_name="expires at"),
                        ),
                        ("request_id", models.CharField(max_length=128, verbose_name="request ID")),
                        (
                            "user_id",
                            models.CharField(blank=True, max_length=64, verbose_name="user ID"),
                        ),
                        ("feature", models.CharField(max_length=20, verbose_name="feature")),
                        ("provider", models.CharField(max_length=20, verbose_name="provider")),
                        ("model", models.CharField(max_length=100, verbose_name="model")),
                        (
                            "tenant",
                            models.ForeignKey(
                                db_index=False,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="tenants.tenant",
                                verbose_name="tenant",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "reservation",
                        "verbose_name_plural": "reservations",
                        "db_table": "ai_reservation",
                    },
                ),
                migrations.CreateModel(
                    name="BudgetCounter",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "day",
                            models.DateField(
                                help_text="The tenant's local calendar day.", verbose_name="day"
                            ),
                        ),
                        (
                            "spent_micros",
                            models.BigIntegerField(default=0, verbose_name="spent (µUSD)"),
                        ),
                        (
                            "reserved_micros",
                            models.BigIntegerField(default=0, verbose_name="reserved (µUSD)"),
                        ),
                        (
                            "granted_micros",
                            models.BigIntegerField(
                                default=0,
                                help_text="One-day top-ups granted by support (BudgetTopUp), on top of the budget.",
                                verbose_name="granted (µUSD)",
                            ),
                        ),
                        (
                            "tenant",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="tenants.tenant",
                                verbose_name="tenant",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "budget counter",
                        "verbose_name_plural": "budget counters",
                        "db_table": "ai_budgetcounter",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("tenant", "day"), name="budget_counter_tenant_day"
                            ),
                            models.CheckConstraint(
                                condition=models.Q(
                                    ("granted_micros__gte", 0),
                                    ("reserved_micros__gte", 0),
                                    ("spent_micros__gte", 0),
                                ),
                                name="budget_counter_not_negative",
                            ),
                        ],
                    },
                ),
            ],
        ),
        migrations.RunPython(content_types_relabel, content_types_relabel_back),
    ]

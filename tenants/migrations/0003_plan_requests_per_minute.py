"""Each plan's assist rate limit (requests per minute): starter 30, pro 120, autopilot 600."""

import django.core.validators
from django.db import migrations, models

REQUESTS_PER_MINUTE = {"starter": 30, "pro": 120, "autopilot": 600}


def seed(apps, schema_editor):
    Plan = apps.get_model("tenants", "Plan")
    for code, limit in REQUESTS_PER_MINUTE.items():
        Plan.objects.filter(code=code).update(requests_per_minute=limit)


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0002_seed_plans"),
    ]

    operations = [
        migrations.AddField(
            model_name="plan",
            name="requests_per_minute",
            field=models.PositiveIntegerField(
                default=60,
                help_text="Assist requests a tenant may make per minute (a burst of this many, "
                "then one every 60/N seconds).",
                validators=[
                    django.core.validators.MinValueValidator(1),
                    django.core.validators.MaxValueValidator(60000),
                ],
            ),
        ),
        migrations.AddConstraint(
            model_name="plan",
            constraint=models.CheckConstraint(
                condition=models.Q(("requests_per_minute__gte", 1)),
                name="plan_requests_per_minute_positive",
            ),
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]

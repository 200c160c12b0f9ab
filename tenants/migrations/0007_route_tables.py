"""Route tables (CONTRACT §8): each plan's rules, seeded for pro and autopilot."""

from django.db import migrations, models

import tenants.route_tables

CHEAP = "kbz-cheap"
SEEDED = [
    {"name": "fast replies", "quality": ["fast"], "target": CHEAP},
    {"name": "journal", "feature": ["journal"], "target": CHEAP},
    {"name": "budget low", "budgetLeftBelowPercent": 20, "target": CHEAP},
]


def seed(apps, schema_editor):
    Plan = apps.get_model("tenants", "Plan")
    Plan.objects.filter(code__in=["pro", "autopilot"]).update(route_rules=SEEDED)


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0006_model_price_from_ai"),
    ]

    operations = [
        migrations.AddField(
            model_name="plan",
            name="route_rules",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text='Ordered rules, first match wins, then the plan\'s model (docs/CONSOLE.md). A JSON list such as [{"name":"fast replies","quality":["fast"],"target":"kbz-cheap"}, {"name":"budget low","budgetLeftBelowPercent":20,"target":"kbz-cheap"}]. Conditions: feature, quality, minBytes, maxBytes, budgetLeftBelowPercent.',
                validators=[tenants.route_tables.validate_route_rules],
                verbose_name="route table",
            ),
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]

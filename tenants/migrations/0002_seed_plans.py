"""The seed's three plans: daily budget, LiteLLM alias and the LiteLLM-side fallback."""

from decimal import Decimal

from django.db import migrations

PLANS = [
    ("starter", "Starter", "1.00", "kbz-cheap", "Claude Haiku"),
    ("pro", "Pro", "10.00", "kbz-standard", "GPT-4o-mini"),
    ("autopilot", "Autopilot", "50.00", "kbz-premium", "Claude Sonnet 4"),
]


def seed(apps, schema_editor):
    Plan = apps.get_model("tenants", "Plan")
    for code, name, budget, model, fallback in PLANS:
        Plan.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "daily_budget_usd": Decimal(budget),
                "model_id": model,
                "fallback_model": fallback,
            },
        )


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0001_initial"),
        ("ai", "0003_seed_prices_and_global_settings"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]

"""An index on ai_usage.created_at (with status carried, on PostgreSQL).

On PostgreSQL it is built CONCURRENTLY: ai_usage holds millions of rows in production and a
plain CREATE INDEX would block every usage write while it builds.
"""

from django.db import migrations, models

INDEX = models.Index(fields=["created_at"], include=["status"], name="ai_usage_created")


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS ai_usage_created "
            "ON ai_usage (created_at) INCLUDE (status)"
        )
    else:
        schema_editor.add_index(apps.get_model("usage", "AIUsage"), INDEX)


def drop_index(apps, schema_editor):
    schema_editor.remove_index(apps.get_model("usage", "AIUsage"), INDEX)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("tenants", "0003_plan_requests_per_minute"),
        ("usage", "0002_rollups_and_purges"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddIndex(model_name="aiusage", index=INDEX)],
            database_operations=[migrations.RunPython(create_index, drop_index)],
        )
    ]

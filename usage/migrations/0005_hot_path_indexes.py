"""Drop the ai_usage indexes that every assist call writes and no query needs.

- `tenant_id` alone: `ai_usage_tenant_created` (tenant_id, created_at) leads with it and serves
  every lookup by tenant, the foreign key's checks included.
- The `_like` (varchar_pattern_ops) twins Django adds on PostgreSQL for `id` and `tenant_id`:
  they serve only LIKE 'prefix%' on those columns, which nothing runs.

Measured (docs/PERFORMANCE.md): with these and ai.0009's, PostgreSQL spends about 0.3 ms less CPU
per assist call. Dropped CONCURRENTLY on PostgreSQL, where ai_usage holds millions of rows, and
only the index: the state change (db_index=False) must not make Django drop and re-add the
foreign key, which would scan the whole table.
"""

from django.db import migrations, models

# Django's names for them: a hash of the table and column, the same on every database.
INDEXES = {
    "ai_usage_tenant_id_d4ca031b": '("tenant_id")',
    "ai_usage_tenant_id_d4ca031b_like": '("tenant_id" varchar_pattern_ops)',
    "ai_usage_id_c13f904a_like": '("id" varchar_pattern_ops)',
}


def drop_indexes(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    for name in INDEXES:
        schema_editor.execute(f'DROP INDEX {concurrently}IF EXISTS "{name}"')


def create_indexes(apps, schema_editor):
    postgresql = schema_editor.connection.vendor == "postgresql"
    for name, columns in INDEXES.items():
        if postgresql:
            schema_editor.execute(
                f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{name}" ON "ai_usage" {columns}'
            )
        elif "_like" not in name:
            schema_editor.execute(f'CREATE INDEX IF NOT EXISTS "{name}" ON "ai_usage" {columns}')


class Migration(migrations.Migration):
    atomic = False  # DROP INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("tenants", "0005_alert_percents"),
        ("usage", "0004_labels"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="aiusage",
                    name="tenant",
                    field=models.ForeignKey(
                        db_column="tenant_id",
                        db_index=False,
                        on_delete=models.deletion.PROTECT,
                        related_name="+",
                        to="tenants.tenant",
                        verbose_name="tenant",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(drop_indexes, create_indexes)],
        )
    ]

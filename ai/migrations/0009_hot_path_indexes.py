"""Drop the ai_reservation indexes that every assist call writes (insert, then delete) and no
query needs: the table holds only the calls in flight, so a scan of it by tenant is cheap.

- `tenant_id` and its `_like` (varchar_pattern_ops) twin;
- the `_like` twin of the primary key (LIKE 'prefix%' on ids: nothing runs it).

Only the indexes: the state change (db_index=False) must not make Django drop and re-add the
foreign key. Going back recreates the tenant index, not the `_like` ones nothing used.
"""

from django.db import migrations, models

# Django's names for them: a hash of the table and column, the same on every database.
INDEXES = (
    "ai_reservation_tenant_id_5d11e2d9",
    "ai_reservation_tenant_id_5d11e2d9_like",
    "ai_reservation_id_7c146fe2_like",
)


class Migration(migrations.Migration):
    dependencies = [
        ("ai", "0008_labels"),
        ("tenants", "0005_alert_percents"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="reservation",
                    name="tenant",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=models.deletion.CASCADE,
                        related_name="+",
                        to="tenants.tenant",
                        verbose_name="tenant",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    sql=[f'DROP INDEX IF EXISTS "{name}"' for name in INDEXES],
                    reverse_sql=[
                        'CREATE INDEX IF NOT EXISTS "ai_reservation_tenant_id_5d11e2d9" '
                        'ON "ai_reservation" ("tenant_id")'
                    ],
                )
            ],
        )
    ]

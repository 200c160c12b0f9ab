"""ModelPrice (now tenants') and the ledger's BudgetCounter, Reservation and BudgetTopUp (now
usage's) leave ai's state; their tables and rows stay, owned by those apps."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("usage", "0006_ledger_from_ai"),
        ("ai", "0009_hot_path_indexes"),
    ]

    operations = [
        # The tables stay where they are, with their rows: only Django's idea of which app
        # owns the models changes.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name="budgetcounter",
                    name="tenant",
                ),
                migrations.RemoveField(
                    model_name="budgettopup",
                    name="tenant",
                ),
                migrations.DeleteModel(
                    name="ModelPrice",
                ),
                migrations.RemoveField(
                    model_name="reservation",
                    name="tenant",
                ),
                migrations.DeleteModel(
                    name="BudgetCounter",
                ),
                migrations.DeleteModel(
                    name="BudgetTopUp",
                ),
                migrations.DeleteModel(
                    name="Reservation",
                ),
            ],
        ),
    ]

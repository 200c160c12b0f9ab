"""The two staff groups of the console (docs/OPERATIONS.md, "Staff console").

Support may view everything, toggle kill switches and grant one-day top-ups; Billing admin may
view everything and edit plans, prices and tenants' plans and budget overrides. Neither may
change accounting rows, which nobody edits. Permissions are created here first: Django only
creates them after all migrations, and a fresh database runs this one before that.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEWED_APPS = ["admin", "ai", "tenants", "usage"]
GROUPS = {
    "Support": [
        "ai.change_aiglobalsettings",
        "ai.change_aisettings",
        "ai.add_budgettopup",
    ],
    "Billing admin": [
        "tenants.change_plan",
        "tenants.change_tenant",
        "ai.add_modelprice",
        "ai.change_modelprice",
    ],
}


def create_groups(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    views = Permission.objects.filter(
        codename__startswith="view_", content_type__app_label__in=VIEWED_APPS
    )
    for name, granted in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*views)
        for label in granted:
            app_label, codename = label.split(".")
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def delete_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("ai", "0007_model_price_labels"),
        ("tenants", "0003_plan_requests_per_minute"),
        ("usage", "0002_rollups_and_purges"),
    ]

    operations = [migrations.RunPython(create_groups, delete_groups)]

"""The platform alert settings' one row, and the console groups' rights on alerts.

Both groups view every alerts page (docs/CONSOLE.md: a model added later gets its view
permission in a migration). Support may also resend alerts and manage tenants' webhook
endpoints; Billing admin sets the platform spend threshold.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUPS = {
    "Support": [
        "change_alertdelivery",
        "add_webhookendpoint",
        "change_webhookendpoint",
        "delete_webhookendpoint",
    ],
    "Billing admin": ["change_alertsettings"],
}


def create_settings_row(apps, schema_editor):
    apps.get_model("alerts", "AlertSettings").objects.get_or_create(id=1)


def grant_groups(apps, schema_editor):
    # Django creates permissions only after all migrations; these need them now.
    app_config = apps.get_app_config("alerts")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    alerts = Permission.objects.filter(content_type__app_label="alerts")
    for group in Group.objects.filter(name__in=GROUPS):
        group.permissions.add(*alerts.filter(codename__startswith="view_"))
        group.permissions.add(*alerts.filter(codename__in=GROUPS[group.name]))


def revoke_groups(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    for group in apps.get_model("auth", "Group").objects.filter(name__in=GROUPS):
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="alerts"))


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0001_initial"),
        ("console", "0001_staff_groups"),
    ]

    operations = [
        migrations.RunPython(create_settings_row, migrations.RunPython.noop),
        migrations.RunPython(grant_groups, revoke_groups),
    ]

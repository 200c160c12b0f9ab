"""The console groups' rights on Autopilot jobs (docs/CONSOLE.md: a model added later gets its
view permission in a migration).

Both groups see the jobs and the queue page; Support, who run the AI during incidents, may also
retry a tenant's failed jobs and cancel its waiting ones (the permission to change a job: the
job pages themselves stay read-only for everyone).
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUPS = {
    "Support": ["view_autopilotjob", "change_autopilotjob"],
    "Billing admin": ["view_autopilotjob"],
}


def grant_groups(apps, schema_editor):
    # Django creates permissions only after all migrations; these need them now.
    app_config = apps.get_app_config("ai")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    jobs = Permission.objects.filter(
        content_type__app_label="ai", content_type__model="autopilotjob"
    )
    for group in Group.objects.filter(name__in=GROUPS):
        group.permissions.add(*jobs.filter(codename__in=GROUPS[group.name]))


def revoke_groups(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    jobs = Permission.objects.filter(
        content_type__app_label="ai", content_type__model="autopilotjob"
    )
    for group in apps.get_model("auth", "Group").objects.filter(name__in=GROUPS):
        group.permissions.remove(*jobs)


class Migration(migrations.Migration):
    dependencies = [
        ("ai", "0011_autopilot_jobs"),
        ("console", "0001_staff_groups"),
    ]

    operations = [migrations.RunPython(grant_groups, revoke_groups)]

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from ai.models import AutopilotJob


@pytest.fixture
def superuser(make_user):
    return make_user("root@keybuzz.test", is_staff=True, is_superuser=True)


@pytest.fixture
def in_group(make_user):
    """A staff user in one of the console's groups (created by a migration)."""

    def make(group: str, email: str | None = None):
        user = make_user(email or f"{group.lower().replace(' ', '-')}@keybuzz.test", is_staff=True)
        user.groups.add(Group.objects.get(name=group))
        return user

    return make


@pytest.fixture
def console(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def make_job(db):
    """An Autopilot job row in any state, written directly (the console only reads and
    transitions jobs); `waited`: how long ago it became due (created then too)."""

    def make(tenant, status: str = "queued", *, waited=timedelta(0), **fields) -> AutopilotJob:
        due = timezone.now() - waited
        row = {
            "request": {"payload": {"messages": [{"role": "customer", "content": "x"}]},
                        "quality": "balanced", "contextType": "", "contextId": ""},
            "request_id": "r", "created_by": "1", "request_hash": "h", "created_at": due,
            "next_run_at": due, "deadline": timezone.now() + timedelta(days=1),
        }  # fmt: skip
        return AutopilotJob.objects.create(tenant=tenant, status=status, **{**row, **fields})

    return make

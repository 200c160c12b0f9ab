import pytest
from django.contrib.auth.models import Group


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

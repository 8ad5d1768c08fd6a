"""The identity model: partial unique indexes among live users, and Django's own doors still working."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone

from accounts.models import User
from tests.conftest import PASSWORD


@pytest.mark.django_db
def test_partial_unique_indexes_enforced_by_the_database() -> None:
    User.objects.create(email="ada@example.com", username="ada")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(email="ADA@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(email="other@example.com", username="ADA")
    User.objects.filter(email="ada@example.com").update(deleted_at=timezone.now())
    User.objects.create(email="ADA@example.com", username="Ada")  # free again
    User.objects.create(email="b@example.com")
    User.objects.create(email="c@example.com")  # many users without a username
    assert User.objects.filter(username__iexact="ada").count() == 2


@pytest.mark.django_db
def test_django_authenticate_picks_the_live_user() -> None:
    old = User.objects.create_user(email="ada@example.com", password="old-password-123", username="ada")
    old.deleted_at = timezone.now()
    old.save()
    new = User.objects.create_user(email="Ada@example.com", password=PASSWORD, username="ADA")
    assert authenticate(username="ada@example.com", password=PASSWORD) == new
    assert authenticate(username="ada", password=PASSWORD) == new
    assert authenticate(username="ada", password="old-password-123") is None
    assert User.objects.get_by_natural_key("ADA@EXAMPLE.COM") == new


@pytest.mark.django_db
def test_createsuperuser_and_admin_login() -> None:
    call_command(
        "createsuperuser", "--noinput", "--email", "root@example.com", stdout=StringIO(), stderr=StringIO()
    )
    root = User.objects.get(email="root@example.com")
    assert root.is_superuser and root.is_staff and root.profile is not None
    root.set_password(PASSWORD)
    root.save()
    client = Client()
    assert client.login(username="root@example.com", password=PASSWORD)
    r = client.get("/admin/accounts/user/")
    assert r.status_code == 200 and b"root@example.com" in r.content
    r = client.get(f"/admin/accounts/user/{root.pk}/delete/")
    assert r.status_code == 403  # soft deletion only


@pytest.mark.django_db
def test_demo_staff_command_prints_a_working_login() -> None:
    out = StringIO()
    call_command("demo_staff", stdout=out)
    line = out.getvalue()
    email, password = line.split(": ", 1)[1].split("  ")[0].split(" / ")
    assert authenticate(username=email, password=password).is_staff
    call_command("demo_staff", stdout=StringIO())
    assert User.objects.filter(email=email).count() == 1
    from tests.conftest import actions

    assert actions(subject_id=User.objects.get(email=email).pk) == [
        "user.registered"
    ]  # second run: no change

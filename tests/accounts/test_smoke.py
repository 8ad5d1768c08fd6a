from tests.conftest import PASSWORD


def test_register_verify_login_me(api, django_capture_on_commit_callbacks):
    from django.core import mail

    r = api.post_json("/auth/register", {"email": "new@example.com", "password": PASSWORD})
    assert r.status_code == 201, r.content
    assert len(mail.outbox) == 1

from django.urls import path

from console.views import apikeys, audit, auth, gdpr, home, outbox, users, webhooks

app_name = "console"
urlpatterns = [
    path("", home.home, name="home"),
    path("login/", auth.login, name="login"),
    path("logout/", auth.logout, name="logout"),
    path("users/", users.users, name="users"),
    path("users/<uuid:user_id>/", users.user_detail, name="user"),
    path(
        "users/<uuid:user_id>/sessions/<uuid:session_id>/revoke/",
        users.session_revoke,
        name="session_revoke",
    ),
    path("users/<uuid:user_id>/logout-all/", users.logout_all, name="logout_all"),
    path("users/<uuid:user_id>/verification/", users.verification_resend, name="verification_resend"),
    path("users/<uuid:user_id>/deactivate/", users.deactivate, name="deactivate"),
    path("users/<uuid:user_id>/reactivate/", users.reactivate, name="reactivate"),
    path("users/<uuid:user_id>/password-reset/", users.password_reset_send, name="password_reset_send"),
    path("users/<uuid:user_id>/lockout/clear/", users.lockout_clear, name="lockout_clear"),
    path("users/<uuid:user_id>/restore/", users.restore, name="restore"),
    path(
        "users/<uuid:user_id>/social-accounts/<int:account_id>/unlink/",
        users.social_unlink,
        name="social_unlink",
    ),
    path("users/<uuid:user_id>/consents/", users.consent_history, name="consent_history"),
    path("audit/", audit.audit_log, name="audit"),
    path("deletions/", gdpr.deletions, name="deletions"),
    path("deletions/<uuid:request_id>/approve/", gdpr.deletion_approve, name="deletion_approve"),
    path("deletions/<uuid:request_id>/reject/", gdpr.deletion_reject, name="deletion_reject"),
    path("deletions/<uuid:request_id>/cancel/", gdpr.erasure_cancel, name="erasure_cancel"),
    path("exports/", gdpr.exports, name="exports"),
    path("webhooks/", webhooks.webhooks, name="webhooks"),
    path("webhooks/<uuid:endpoint_id>/", webhooks.webhook_detail, name="webhook"),
    path("webhooks/<uuid:endpoint_id>/edit/", webhooks.webhook_edit, name="webhook_edit"),
    path("webhooks/<uuid:endpoint_id>/rotate/", webhooks.webhook_rotate, name="webhook_rotate"),
    path("webhooks/<uuid:endpoint_id>/delete/", webhooks.webhook_delete, name="webhook_delete"),
    path("webhooks/<uuid:endpoint_id>/test/", webhooks.webhook_test, name="webhook_test"),
    path(
        "webhooks/<uuid:endpoint_id>/deliveries/<int:delivery_id>/replay/",
        webhooks.delivery_replay,
        name="webhook_replay",
    ),
    path("outbox/", outbox.outbox_failed, name="outbox"),
    path("outbox/<int:message_id>/retry/", outbox.outbox_retry, name="outbox_retry"),
    path("api-keys/", apikeys.api_keys, name="api_keys"),
    path("api-keys/<uuid:key_id>/revoke/", apikeys.api_key_revoke, name="api_key_revoke"),
]

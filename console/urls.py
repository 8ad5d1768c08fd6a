from django.urls import path

from console.views import apikeys, audit, auth, gdpr, users

app_name = "console"
urlpatterns = [
    path("", auth.home, name="home"),
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
    path("audit/", audit.audit_log, name="audit"),
    path("deletions/", gdpr.deletions, name="deletions"),
    path("deletions/<uuid:request_id>/approve/", gdpr.deletion_approve, name="deletion_approve"),
    path("deletions/<uuid:request_id>/reject/", gdpr.deletion_reject, name="deletion_reject"),
    path("exports/", gdpr.exports, name="exports"),
    path("api-keys/", apikeys.api_keys, name="api_keys"),
    path("api-keys/<uuid:key_id>/revoke/", apikeys.api_key_revoke, name="api_key_revoke"),
]

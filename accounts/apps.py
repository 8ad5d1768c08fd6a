from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts import checks, handlers  # noqa: F401  (register the system checks, the outbox handlers)


class StaffAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with accounts.admin_site.StaffAdminSite as its site (INSTALLED_APPS names this
    class instead of "django.contrib.admin")."""

    default = False
    default_site = "accounts.admin_site.StaffAdminSite"

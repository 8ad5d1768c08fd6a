from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts import checks, handlers, selectors  # noqa: F401  (register the system checks, the outbox handlers)
        from core import mail

        # A mail owed to a user is written in the locale of their profile (core.mail, docs/i18n.md).
        mail.locale_resolver_set(selectors.user_locale)


class StaffAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with accounts.admin_site.StaffAdminSite as its site (INSTALLED_APPS names this
    class instead of "django.contrib.admin")."""

    default = False
    default_site = "accounts.admin_site.StaffAdminSite"

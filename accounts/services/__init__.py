"""All writes of the accounts app, one module per flow. Callers import this package
(`from accounts import services`) and call `services.<entity>_<action>`; modules of the package import
each other directly and never use each other's private names."""

from accounts.services.avatar import avatar_delete, avatar_erase, avatar_set
from accounts.services.email import email_change_confirm, email_change_request
from accounts.services.lockout import lockout_record
from accounts.services.passwords import (
    password_change,
    password_reset_confirm,
    password_reset_request,
    password_reset_send,
    password_set,
)
from accounts.services.reauth import credentials_check, password_confirm, reauth_check
from accounts.services.registration import (
    email_verification_key,
    email_verification_resend,
    email_verification_send,
    email_verify,
    user_register,
    verification_mail_enqueue,
)
from accounts.services.reset_tokens import password_reset_link, password_reset_uid
from accounts.services.sessions import (
    session_login,
    session_open,
    session_revoke,
    session_revoke_for_user,
    session_touch,
    sessions_erase,
    sessions_purge,
    sessions_revoke_all,
    staff_login,
    staff_logout,
    token_refresh,
)
from accounts.services.users import (
    staff_demo_ensure,
    user_access_set,
    user_deactivate,
    user_erase,
    user_reactivate,
    user_soft_delete,
    user_update,
)

__all__ = [
    "avatar_delete",
    "avatar_erase",
    "avatar_set",
    "credentials_check",
    "email_change_confirm",
    "email_change_request",
    "email_verification_key",
    "email_verification_resend",
    "email_verification_send",
    "email_verify",
    "lockout_record",
    "password_change",
    "password_confirm",
    "password_reset_confirm",
    "password_reset_link",
    "password_reset_request",
    "password_reset_send",
    "password_reset_uid",
    "password_set",
    "reauth_check",
    "session_login",
    "session_open",
    "session_revoke",
    "session_revoke_for_user",
    "session_touch",
    "sessions_erase",
    "sessions_purge",
    "sessions_revoke_all",
    "staff_demo_ensure",
    "staff_login",
    "staff_logout",
    "token_refresh",
    "user_access_set",
    "user_deactivate",
    "user_erase",
    "user_reactivate",
    "user_register",
    "user_soft_delete",
    "user_update",
    "verification_mail_enqueue",
]

"""Multi-factor authentication over django-allauth's mfa app.

allauth provides the `Authenticator` model and the primitives (TOTP codes, the TOTP URI and QR code, WebAuthn
built on fido2); this package adapts them to a stateless JSON API: WebAuthn state and pending enrollments
live in `accounts.models.MfaChallenge` rows instead of allauth's Django session, and nothing here reads a
request. The writes are in accounts/services/mfa.py and factors.py; the routers in api.py. See docs/mfa.md.
"""

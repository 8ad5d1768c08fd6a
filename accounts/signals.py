"""Signals accounts sends after commit, for higher apps (gdpr) to subscribe to without accounts importing them."""

from django.dispatch import Signal

# sender=User, user=<User>, actor=<User | None>
user_soft_deleted = Signal()

"""Password hashers."""

from __future__ import annotations

from django.contrib.auth.hashers import Argon2PasswordHasher as DjangoArgon2PasswordHasher


class Argon2PasswordHasher(DjangoArgon2PasswordHasher):
    """Django's Argon2id with the same memory (100 MiB) and time cost, but one lane instead of eight.

    Eight lanes spread one hash over every core: a lone login looks fast, but under load each web worker
    already owns a core, so the extra threads only contend (two concurrent logins on two cores each took
    as long as a single-lane hash; see docs/deployment.md, "Performance"). The work per hash, and so an
    attacker's cost, is unchanged; OWASP recommends p=1. Existing p=8 hashes still verify (the parameters
    are in the hash) and are re-hashed on the next successful login."""

    parallelism = 1

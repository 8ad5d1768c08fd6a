"""The made-up people and histories of `manage.py demo_data`: every value drawn from one seeded Random, so
the same seed and first user number give the same people, states and ids (times are relative to the
moment of the run)."""

from __future__ import annotations

import random
import unicodedata
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from accounts.models import RevokeReason
from audit import services as audit
from audit.models import ActorType, AuditEvent
from config.demo.bulk import BATCH, Row
from gdpr.models import RequestStatus, RequestType

DEMO_PASSWORD = "demo-password-2026"

FIRST_NAMES = [
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken", "Dennis", "Linus", "Guido",
    "Frances", "Radia", "Shafi", "Leslie", "Tim", "Vint", "Ed", "Al", "Bo", "Jo", "Di", "Cy", "Li", "Mo",
    "Mary Ann", "Jean Luc", "Anne Marie", "José Luis", "Zoë", "Björn", "Łukasz", "Søren", "Chloé", "Ana",
    "Jürgen", "Amélie", "Nguyễn", "Aiko", "Priya", "Kwame", "Olu", "Ingrid", "Mateo", "Fatima", "Yusuf",
]  # fmt: skip
LAST_NAMES = [
    "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Thompson", "Ritchie",
    "Torvalds", "Rossum", "Allen", "Perlman", "Goldwasser", "Lamport", "Cerf", "Wu", "Li", "Ng", "Ma", "Xu",
    "Le", "van der Berg", "de la Cruz", "Da Silva", "Lloyd Webber", "Smith-Jones", "Müller", "Øvergaard",
    "Núñez", "Šimek", "O'Brien", "Schröder", "Kowalski", "Okafor", "Tanaka", "Haddad", "Svensson", "Rossi",
]  # fmt: skip
DOMAINS = ["example.com", "example.org", "example.net", "mail.example", "post.example.org", "uni.example.edu"]
LOCALES = ["en", "de", "", "en-GB", "fr", "de-CH", "es", "pt-BR", "de-AT", "nl"]
LOCALE_WEIGHTS = [36, 22, 14, 8, 5, 4, 4, 3, 2, 2]
USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "CustodianApp/3.2 (Android 15; Pixel 8)",
]
BIOS = [
    "",
    "",
    "",
    "Runs a small bakery.",
    "Loves hiking and old maps.",
    "Physics teacher.",
    "Nurse, night shifts.",
]
REJECT_REASONS = ["Open invoices must be settled first.", "Legal hold on this account."]
_ASCII = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "ß": "ss", "æ": "ae", "đ": "d"})

Steps = list[tuple[datetime, str, uuid.UUID | None, str]]


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text.translate(_ASCII)).encode("ascii", "ignore").decode()
    return "".join(c for c in ascii_text.lower() if c.isalpha())


class Generator:
    """One run: draws every value from one Random, collects the audit events (as tuples, written last in
    time order) and the exports to build."""

    def __init__(self, *, seed: int, first_number: int, total: int) -> None:
        self.rnd = random.Random(f"custodian-demo:{seed}:{first_number}")
        self.first_number = first_number
        self.now = timezone.now()
        # Every generated moment lies before this, so the sealer (AUDIT_SEAL_LAG_SECONDS) links them at once.
        self.horizon = self.now - timedelta(minutes=2)
        self.password = make_password(DEMO_PASSWORD)
        self.events: list[tuple[Any, ...]] = []
        self.to_build: list[uuid.UUID] = []
        self.deciders: list[uuid.UUID] = []
        # In-flight exports stay few whatever the size (a running consumer picks them up).
        self.caps = {"pending": min(20, 1 + total // 2000), "running": min(5, 1 + total // 5000), "build": 3}
        # The first requests of a run take these states, so that even a small run shows each of them.
        self.export_script = ["build", "pending", "running", "failed", "expired", "cancelled"]
        self.erasure_script = ["approved", "awaiting_approval"]
        self.requests: Counter[str] = Counter()
        # Read once: settings are a lazy object, slow to read in a loop.
        self.session_life = timedelta(days=settings.SESSION_ABSOLUTE_DAYS)
        self.purposes = list(settings.GDPR_CONSENT_PURPOSES)
        self.policy_version = settings.GDPR_CONSENT_POLICY_VERSION

    def new_id(self) -> uuid.UUID:
        return uuid.UUID(int=self.rnd.getrandbits(128), version=4)

    def hex(self, bits: int) -> str:
        return f"{self.rnd.getrandbits(bits):0{bits // 4}x}"

    def between(self, start: datetime, end: datetime) -> datetime:
        return start + timedelta(seconds=self.rnd.uniform(0, max(0.0, (end - start).total_seconds())))

    def ip(self) -> str:
        if self.rnd.random() < 0.15:
            return f"2001:db8::{self.rnd.randrange(1, 0xFFFF):x}"
        return f"{self.rnd.choice(['192.0.2', '198.51.100', '203.0.113'])}.{self.rnd.randrange(1, 255)}"

    def event(
        self,
        at: datetime,
        action: str,
        user: Row,
        details: dict[str, Any],
        *,
        actor: uuid.UUID | None = None,
        actor_type: str = ActorType.USER,
        ip: str | None = None,
    ) -> None:
        """An audit event about `user`: by the user themself (their address and browser) unless an actor
        of another type is named."""
        if actor_type == ActorType.USER:
            actor, ip, ua = user["id"], user["_ip"], user["_ua"]
        else:
            ua = ""
        self.events.append((at, action, actor_type, actor, user["id"], ip, ua, details))

    # --- people -----------------------------------------------------------------------------------------

    def user(self, number: int) -> Row:
        """A user row; keys starting with "_" are traits used while generating, never written."""
        rnd = self.rnd
        first, last = rnd.choice(FIRST_NAMES), rnd.choice(LAST_NAMES)
        if rnd.random() < 0.03:  # social sign-ups without a name
            first = last = ""
        given, family = _slug(first) or "user", _slug(last) or "demo"
        local = rnd.choice(
            [f"{given}.{family}", f"{given[0]}{family}", given, f"{family}.{given}", f"{given}_{family[0]}"]
        )
        username = None
        if rnd.random() < 0.7:
            stem = rnd.choice(
                [f"{given}{family}", f"{given}.{family}", f"{given[0]}{family}", f"{family}_{given}"]
            )
            # No name has a digit, so the number at the end keeps every username (and address) unique.
            username = f"{stem[: 30 - len(str(number))]}{number}"
        recent = rnd.random() < 0.3  # sign-ups of the last 30 days, for the console's charts
        joined = self.horizon - timedelta(days=rnd.uniform(0, 30 if recent else 730))
        staff = number == self.first_number or rnd.random() < 0.005
        verified = staff or rnd.random() < 0.9
        user: Row = {
            "id": self.new_id(),
            "password": self.password,
            "email": f"{local}{number}@{rnd.choice(DOMAINS)}",
            "username": username,
            "first_name": first,
            "last_name": last,
            "is_staff": staff,
            "is_active": staff or rnd.random() > 0.01,
            "date_joined": joined,
            "email_verified_at": min(self.horizon, joined + timedelta(minutes=rnd.uniform(1, 600)))
            if verified
            else None,
            "_ip": self.ip(),
            "_ua": rnd.choice(USER_AGENTS),
            "_via": "password" if rnd.random() < 0.88 else rnd.choice(["google", "github"]),
        }
        if not staff and verified and rnd.random() < 0.02:
            # Within the erasure grace period, so its request is still waiting or scheduled.
            floor = max(user["email_verified_at"], self.horizon - timedelta(days=5))
            user["deleted_at"] = self.between(floor, self.horizon)
        return user

    def profile(self, user: Row) -> Row:
        rnd = self.rnd
        birth = (
            (self.now - timedelta(days=rnd.uniform(18, 80) * 365.25)).date() if rnd.random() < 0.4 else None
        )
        return {
            "user_id": user["id"],
            "locale": rnd.choices(LOCALES, LOCALE_WEIGHTS)[0],
            "phone": f"+49 30 {rnd.randrange(1000000, 9999999)}" if rnd.random() < 0.3 else "",
            "website": f"https://{_slug(user['last_name']) or 'home'}.example.net"
            if rnd.random() < 0.1
            else "",
            "bio": rnd.choice(BIOS),
            "birth_date": birth,
            "updated_at": user["email_verified_at"] or user["date_joined"],
        }

    def history(self, user: Row) -> None:
        """Audit events of signing up, verifying, a failed login, a deactivation."""
        self.event(user["date_joined"], "user.registered", user, {"via": user["_via"]})
        if user["email_verified_at"] and user["_via"] == "password":
            self.event(user["email_verified_at"], "user.email_verified", user, {})
        if not user["is_active"]:
            at = self.between(user["email_verified_at"] or user["date_joined"], self.horizon)
            staff, details = self.rnd.choice(self.deciders), {"reason": "Chargeback fraud", "sessions": 0}
            self.event(
                at, "user.deactivated", user, details, actor=staff, actor_type=ActorType.STAFF, ip=self.ip()
            )
        elif self.rnd.random() < 0.03:
            at = self.between(user["date_joined"], self.horizon)
            details = {"reason": "wrong_password", "door": "api"}
            self.event(at, "auth.login_failed", user, details, actor_type=ActorType.SYSTEM, ip=self.ip())

    def sessions(self, user: Row) -> list[Row]:
        rnd = self.rnd
        if user["email_verified_at"] is None:
            return []
        deleted = user.get("deleted_at")
        end = deleted or self.horizon
        found = []
        for _ in range(rnd.choice([0, 1, 1, 1, 2, 2, 3])):
            created = self.between(user["email_verified_at"], end)
            expires = created + self.session_life
            session: Row = {
                "id": self.new_id(),
                "user_id": user["id"],
                "created_at": created,
                "last_seen_at": self.between(created, min(expires, end)),
                "ip": user["_ip"] if rnd.random() < 0.7 else self.ip(),
                "user_agent": user["_ua"],
                "via": user["_via"],
                "expires_at": expires,
                "refresh_hash": self.hex(256),
            }
            reason = ""
            if deleted:
                reason = RevokeReason.USER_DELETED
            elif not user["is_active"]:
                reason = RevokeReason.DEACTIVATED
            elif expires > self.now and rnd.random() < 0.3:
                reason = RevokeReason.LOGOUT
            if reason:  # deletion and deactivation end every session, expired or not
                session["revoked_at"], session["revoke_reason"] = deleted or session["last_seen_at"], reason
            self.event(created, "auth.login", user, {"session_id": str(session["id"]), "via": user["_via"]})
            if reason == RevokeReason.LOGOUT:
                details = {"session_id": str(session["id"]), "reason": reason}
                self.event(session["revoked_at"], "session.revoked", user, details)
            found.append(session)
        if found:
            user["last_login"] = max(s["created_at"] for s in found)
        return found

    def consents(self, user: Row) -> list[Row]:
        """Consent records; their audit events are added once the records have ids (`consent_events`)."""
        rnd = self.rnd
        if user["email_verified_at"] is None or rnd.random() > 0.6:
            return []
        end = user.get("deleted_at") or self.horizon
        records = []
        for purpose in self.purposes:
            if rnd.random() < 0.5:
                continue
            version = self.policy_version if rnd.random() < 0.7 else "2025-06"
            at, granted = self.between(user["email_verified_at"], end), rnd.random() < 0.7
            record = {"user_id": user["id"], "purpose": purpose, "policy_version": version, "ip": user["_ip"]}
            records.append({**record, "granted": granted, "created_at": at})
            if granted and rnd.random() < 0.2:
                records.append({**record, "granted": False, "created_at": self.between(at, end)})
        return records

    def consent_events(self, records: list[Row], ids: list[int], users: dict[uuid.UUID, Row]) -> None:
        for record, record_id in zip(records, ids, strict=True):
            details = {
                "purpose": record["purpose"],
                "policy_version": record["policy_version"],
                "record_id": record_id,
            }
            action = "consent.granted" if record["granted"] else "consent.withdrawn"
            self.event(record["created_at"], action, users[record["user_id"]], details)

    # --- data requests ----------------------------------------------------------------------------------

    def data_requests(self, user: Row) -> list[tuple[Row, list[Row]]]:
        found = []
        if user.get("deleted_at"):
            found.append(self.erasure(user, deleted=True))
        elif user["email_verified_at"] and self.rnd.random() < 0.004:
            found.append(self.erasure(user, deleted=False))
        exporter = user["email_verified_at"] and user["is_active"] and not user.get("deleted_at")
        if exporter and self.rnd.random() < 0.04:
            found.append(self.export(user))
        return found

    def _request(self, user: Row, type_: str, at: datetime, source: str) -> Row:
        request = {
            "id": self.new_id(),
            "user_id": user["id"],
            "type": type_,
            "source": source,
            "created_at": at,
        }
        self.event(at, f"gdpr.{type_}_requested", user, {"request_id": str(request["id"]), "source": source})
        return request

    def _history(self, request: Row, steps: Steps) -> list[Row]:
        rows, previous = [], ""
        for at, status, actor, note in steps:
            rows.append(
                {"request_id": request["id"], "created_at": at, "from_status": previous, "to_status": status}
                | {"actor_id": actor, "note": note}
            )
            previous = request["status"] = status
            request["updated_at"] = at
        self.requests[f"{request['type']} {request['status']}"] += 1
        return rows

    def erasure(self, user: Row, *, deleted: bool) -> tuple[Row, list[Row]]:
        rnd = self.rnd
        if deleted:
            at = user["deleted_at"]
            self.event(at, "user.deleted", user, {"soft": True})
            choice = (self.erasure_script.pop(0) if self.erasure_script else "") or (
                "approved" if rnd.random() < 0.35 else "awaiting_approval"
            )
        else:
            at = self.between(self.horizon - timedelta(days=60), self.horizon)
            choice = rnd.choice(["awaiting_approval", "rejected", "cancelled"])
        deciders = [staff for staff in self.deciders if staff != user["id"]]  # never about oneself
        if choice in ("approved", "rejected") and not deciders:
            choice = "awaiting_approval"
        request = self._request(user, RequestType.ERASURE, at, "account_deleted" if deleted else "api")
        steps: Steps = [(at, RequestStatus.AWAITING_APPROVAL, user["id"], "")]
        details: dict[str, Any] = {"request_id": str(request["id"])}
        if choice in ("approved", "rejected"):
            # Decided within a day: an approved erasure is still in its grace period.
            decider, decided = (
                rnd.choice(deciders),
                self.between(at, min(self.horizon, at + timedelta(days=1))),
            )
            request |= {"decided_by_id": decider, "decided_at": decided}
            if choice == "approved":
                request["scheduled_for"] = decided + timedelta(days=settings.GDPR_ERASURE_GRACE_DAYS)
                details["scheduled_for"] = request["scheduled_for"].isoformat()
                steps.append((decided, RequestStatus.APPROVED, decider, ""))
            else:
                request["reason"] = details["reason"] = rnd.choice(REJECT_REASONS)
                request["completed_at"] = decided
                steps.append((decided, RequestStatus.REJECTED, decider, request["reason"]))
            action = f"gdpr.erasure_{choice}"
            self.event(
                decided, action, user, details, actor=decider, actor_type=ActorType.STAFF, ip=self.ip()
            )
        elif choice == "cancelled":
            request["completed_at"] = cancelled = self.between(at, self.horizon)
            steps.append((cancelled, RequestStatus.CANCELLED, user["id"], ""))
            self.event(cancelled, "gdpr.erasure_cancelled", user, details)
        return request, self._history(request, steps)

    def export(self, user: Row) -> tuple[Row, list[Row]]:
        rnd, system = self.rnd, ActorType.SYSTEM
        weights = {"expired": 55, "failed": 10, "cancelled": 8, "pending": 9, "running": 9, "build": 9}
        state = rnd.choices(list(weights), list(weights.values()))[0]
        state = self.export_script.pop(0) if self.export_script else state
        if state in self.caps:
            state = state if self.caps[state] > 0 else "expired"
            self.caps[state] = self.caps.get(state, 0) - 1
        recent = state in ("pending", "running", "build")
        # An expired export was purged GDPR_EXPORT_TTL_DAYS after it was built, so before now.
        latest = (
            timedelta(days=settings.GDPR_EXPORT_TTL_DAYS + 1) if state == "expired" else timedelta(minutes=10)
        )
        at = self.between(self.horizon - timedelta(days=2 if recent else 300), self.horizon - latest)
        request = self._request(user, RequestType.EXPORT, at, "api")
        steps: Steps = [(at, RequestStatus.PENDING, user["id"], "")]
        rid = str(request["id"])
        if state == "build":
            self.to_build.append(request["id"])  # the export job builds it after the commit
        elif state == "cancelled":
            request["completed_at"] = done = self.between(at, at + timedelta(minutes=5))
            steps.append((done, RequestStatus.CANCELLED, user["id"], ""))
            self.event(done, "gdpr.export_cancelled", user, {"request_id": rid})
        elif state != "pending":
            started = at + timedelta(seconds=rnd.uniform(1, 60))
            request["attempts"] = 1
            steps.append((started, RequestStatus.RUNNING, None, ""))
            self.event(
                started, "gdpr.export_started", user, {"request_id": rid, "attempt": 1}, actor_type=system
            )
            done = started + timedelta(seconds=rnd.uniform(5, 300))
            if state == "running":
                request["progress"], request["lease_owner"] = rnd.randrange(5, 95), self.hex(64)
                request["lease_until"] = self.now + timedelta(seconds=settings.GDPR_LEASE_SECONDS)
            elif state == "failed":
                request["error"], request["completed_at"] = (
                    "OSError: [Errno 28] No space left on device",
                    done,
                )
                steps.append((done, RequestStatus.FAILED, None, "OSError"))
                self.event(
                    done,
                    "gdpr.export_failed",
                    user,
                    {"request_id": rid, "error": "OSError"},
                    actor_type=system,
                )
            else:
                request |= {"progress": 100, "completed_at": done, "expired_token_hash": self.hex(256)}
                purged = done + timedelta(days=settings.GDPR_EXPORT_TTL_DAYS)
                steps += [
                    (done, RequestStatus.READY, None, ""),
                    (purged, RequestStatus.EXPIRED, None, "expired"),
                ]
                ready = {"request_id": rid, "size": rnd.randrange(4_000, 3_000_000), "sha256": self.hex(256)}
                self.event(done, "gdpr.export_ready", user, ready, actor_type=system)
                purge = {"request_id": rid, "reason": "expired"}
                self.event(purged, "gdpr.export_purged", user, purge, actor_type=system)
        return request, self._history(request, steps)

    # --- audit ------------------------------------------------------------------------------------------

    def audit_rows(self) -> Iterator[list[Row]]:
        """The collected events in time order, each with its row_hash, in batches."""
        self.events.sort(key=lambda e: e[0])
        # The order of Generator.event's tuples.
        names = (
            "created_at",
            "action",
            "actor_type",
            "actor_id",
            "subject_id",
            "ip",
            "user_agent",
            "details",
        )
        for start in range(0, len(self.events), BATCH):
            rows = []
            for values in self.events[start : start + BATCH]:
                row = dict(zip(names, values, strict=True))
                row["request_id"] = self.hex(128) if row["actor_type"] != ActorType.SYSTEM else ""
                # row_hash reads only the content attributes; a bare instance spares Model.__init__.
                event = AuditEvent.__new__(AuditEvent)
                event.__dict__.update(row)
                row["row_hash"] = audit.row_hash(event)
                rows.append(row)
            yield rows

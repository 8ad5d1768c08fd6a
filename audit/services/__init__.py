"""All writes of the audit log (`from audit import services`): events (record, pseudonymise) and the chain
(seal, verify, retention)."""

from audit.services.chain import chain_link, chain_verify, events_retention, events_seal
from audit.services.events import (
    events_pseudonymise,
    pseudonym,
    record,
    record_guarded,
    row_hash,
    subscribe,
)

__all__ = [
    "chain_link",
    "chain_verify",
    "events_pseudonymise",
    "events_retention",
    "events_seal",
    "pseudonym",
    "record",
    "record_guarded",
    "row_hash",
    "subscribe",
]

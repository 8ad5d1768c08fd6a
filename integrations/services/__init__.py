"""Writes of the integrations app, by flow: endpoints (staff and operators manage receivers) and deliveries
(fan-out of events, attempts, retries, replays). Callers do `from integrations import services`."""

from integrations.services.deliveries import (
    DELIVERY_TOPIC,
    backoff_seconds,
    deliveries_due,
    delivery_attempt,
    delivery_replay,
    endpoint_test_send,
    event_body,
    event_fan_out,
    events_purge,
    secrets_expire,
)
from integrations.services.endpoints import (
    MANAGE_PERMISSION,
    endpoint_create,
    endpoint_delete,
    endpoint_secret_rotate,
    endpoint_update,
    event_types_check,
)

__all__ = [
    "DELIVERY_TOPIC",
    "MANAGE_PERMISSION",
    "backoff_seconds",
    "deliveries_due",
    "delivery_attempt",
    "delivery_replay",
    "endpoint_create",
    "endpoint_delete",
    "endpoint_secret_rotate",
    "endpoint_test_send",
    "endpoint_update",
    "event_body",
    "event_fan_out",
    "event_types_check",
    "events_purge",
    "secrets_expire",
]

"""The integrations app's outbox handlers. Both queue huey tasks (an outside effect), so both are
idempotent: the fan-out by the outbox row's id, the delivery task by its claim."""

from __future__ import annotations

from core import outbox
from core.models import OutboxMessage
from integrations import events, services, tasks


@outbox.handler(events.EVENT_TOPIC, transactional=False, key="integrations.webhook_fan_out")
def fan_out(message: OutboxMessage) -> None:
    for delivery_id in services.event_fan_out(message_id=message.id, payload=message.payload):
        tasks.webhook_deliver(delivery_id)


@outbox.handler(services.DELIVERY_TOPIC, transactional=False, key="integrations.delivery_enqueue")
def delivery_enqueue(message: OutboxMessage) -> None:
    for delivery_id in message.payload.get("delivery_ids", []):
        tasks.webhook_deliver(int(delivery_id))

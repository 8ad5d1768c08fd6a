"""`manage.py webhooks …`: the operator's door to webhook endpoints (the console is the staff's). Changes are
audited as system actions."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import DomainError
from integrations import selectors, services
from integrations.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint


def _types(value: str) -> list[str]:
    return [t for t in (part.strip() for part in value.split(",")) if t]


class Command(BaseCommand):
    help = "Manage outbound webhook endpoints: list, add, update, remove, enable, disable, rotate-secret, test, deliveries, replay."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="action")
        sub.add_parser("list", help="List endpoints.")
        add = sub.add_parser("add", help="Add an endpoint; prints its signing secret once.")
        add.add_argument("url")
        add.add_argument(
            "--events", required=True, type=_types, help="Comma-separated event types, or * for all."
        )
        add.add_argument("--description", default="")
        add.add_argument("--disabled", action="store_true", help="Create it disabled.")
        update = sub.add_parser("update", help="Change an endpoint's URL, event types or description.")
        update.add_argument("endpoint_id", type=uuid.UUID)
        update.add_argument("--url")
        update.add_argument("--events", type=_types)
        update.add_argument("--description")
        for name, text in (
            ("remove", "Delete an endpoint and its deliveries."),
            ("enable", "Send events to the endpoint again."),
            ("disable", "Stop sending new events to the endpoint."),
            ("test", "Send a webhook.test event to the endpoint."),
        ):
            sub.add_parser(name, help=text).add_argument("endpoint_id", type=uuid.UUID)
        rotate = sub.add_parser(
            "rotate-secret",
            help="New signing secret (printed once); the old one signs during the grace period.",
        )
        rotate.add_argument("endpoint_id", type=uuid.UUID)
        rotate.add_argument("--grace-hours", type=float, default=None)
        deliveries = sub.add_parser("deliveries", help="An endpoint's recent deliveries, newest first.")
        deliveries.add_argument("endpoint_id", type=uuid.UUID)
        deliveries.add_argument("--status", choices=DeliveryStatus.values, default="")
        deliveries.add_argument("--limit", type=int, default=20)
        replay = sub.add_parser("replay", help="Send a delivery again with the same webhook-id.")
        replay.add_argument("delivery_id", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        try:
            getattr(self, "do_" + action.replace("-", "_"))(options)
        except DomainError as exc:
            fields = exc.details.get("fields", {})
            raise CommandError("; ".join(m for messages in fields.values() for m in messages) or exc.message)

    def _endpoint(self, options: dict[str, Any]) -> WebhookEndpoint:
        endpoint = selectors.endpoint_get(endpoint_id=options["endpoint_id"])
        if endpoint is None:
            raise CommandError(f"No webhook endpoint {options['endpoint_id']}.")
        return endpoint

    def do_list(self, options: dict[str, Any]) -> None:
        for e in selectors.endpoint_list():
            state = "enabled" if e.enabled else "disabled"
            self.stdout.write(
                f"{e.pk}  {state:8}  {','.join(e.event_types)}  {e.url}  {e.description}".rstrip()
            )

    def do_add(self, options: dict[str, Any]) -> None:
        endpoint, secret = services.endpoint_create(
            actor=None,
            url=options["url"],
            event_types=options["events"],
            description=options["description"],
            enabled=not options["disabled"],
        )
        self.stdout.write(f"Endpoint {endpoint.pk} created.")
        self.stdout.write(f"Signing secret (shown once): {secret}")

    def do_update(self, options: dict[str, Any]) -> None:
        endpoint = services.endpoint_update(
            endpoint=self._endpoint(options),
            actor=None,
            url=options["url"],
            event_types=options["events"],
            description=options["description"],
        )
        self.stdout.write(f"Endpoint {endpoint.pk} updated.")

    def do_remove(self, options: dict[str, Any]) -> None:
        services.endpoint_delete(endpoint=self._endpoint(options), actor=None)
        self.stdout.write(f"Endpoint {options['endpoint_id']} removed.")

    def do_enable(self, options: dict[str, Any]) -> None:
        services.endpoint_update(endpoint=self._endpoint(options), actor=None, enabled=True)
        self.stdout.write(f"Endpoint {options['endpoint_id']} enabled.")

    def do_disable(self, options: dict[str, Any]) -> None:
        services.endpoint_update(endpoint=self._endpoint(options), actor=None, enabled=False)
        self.stdout.write(f"Endpoint {options['endpoint_id']} disabled.")

    def do_rotate_secret(self, options: dict[str, Any]) -> None:
        endpoint = self._endpoint(options)
        secret = services.endpoint_secret_rotate(
            endpoint=endpoint, actor=None, grace_hours=options["grace_hours"]
        )
        self.stdout.write(f"New signing secret (shown once): {secret}")
        if endpoint.previous_secret_expires_at:
            self.stdout.write(
                f"The previous secret also signs until {endpoint.previous_secret_expires_at:%Y-%m-%d %H:%M} UTC."
            )

    def do_test(self, options: dict[str, Any]) -> None:
        delivery = services.endpoint_test_send(endpoint=self._endpoint(options), actor=None)
        self.stdout.write(f"Test event {delivery.event.webhook_id} queued as delivery {delivery.pk}.")

    def do_deliveries(self, options: dict[str, Any]) -> None:
        rows = selectors.deliveries_of(endpoint=self._endpoint(options), status=options["status"])
        for d in rows[: max(1, min(options["limit"], 500))]:
            code = d.last_status_code or "-"
            latency = f"{d.last_latency_ms}ms" if d.last_latency_ms is not None else "-"
            self.stdout.write(
                f"{d.pk}  {d.status:9}  {d.event.type:18}  {d.event.webhook_id}  attempts={d.attempts}  "
                f"code={code}  latency={latency}  {d.last_error}".rstrip()
            )

    def do_replay(self, options: dict[str, Any]) -> None:
        delivery = WebhookDelivery.objects.select_related("event").filter(pk=options["delivery_id"]).first()
        if delivery is None:
            raise CommandError(f"No webhook delivery {options['delivery_id']}.")
        services.delivery_replay(delivery=delivery, actor=None)
        self.stdout.write(f"Delivery {delivery.pk} ({delivery.event.webhook_id}) queued again.")

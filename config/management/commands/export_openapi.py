from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = (
        "Write the OpenAPI document of /api/v1 (the one served at /api/v1/openapi.json) to a file, or to "
        "stdout with '-'. The output is deterministic; docs/openapi.json is this command's output."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", nargs="?", default="docs/openapi.json")
        parser.add_argument(
            "--check",
            action="store_true",
            help="Write nothing; exit 1 when the file differs from the code's document.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from config import openapi
        from config.api import api

        document = openapi.render(api)
        if options["path"] == "-":
            self.stdout.write(document, ending="")
            return
        path = Path(options["path"])
        if options["check"]:
            if not path.exists() or path.read_text() != document:
                self.stderr.write(f"{path} is out of date: run manage.py export_openapi {path}")
                raise SystemExit(1)
            self.stdout.write(f"{path} is up to date")
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(document)
        count = len(openapi.operations(api.get_openapi_schema()))
        self.stdout.write(f"wrote {path} ({count} operations)")

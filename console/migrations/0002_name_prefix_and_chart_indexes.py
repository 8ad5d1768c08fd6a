"""More indexes for the console (docs/console.md), here for the reason of 0001: only the console reads this way.

- Short search words ("Ed") match the start of a first or last name: B-tree text_pattern_ops indexes on
  lower(first_name) and lower(last_name), next to 0001's e-mail and username ones (PostgreSQL only).
- The home page's charts count audit events of one action per day: an index on (action, created_at) answers
  them from the index alone, without reading the table (every database).

CONCURRENTLY on PostgreSQL, so adding them to large live tables blocks neither sign-ups nor audit writes."""

from django.db import migrations

POSTGRES_FORWARD = [
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS console_user_first_name_prefix ON accounts_user "
    "(lower(first_name) text_pattern_ops)",
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS console_user_last_name_prefix ON accounts_user "
    "(lower(last_name) text_pattern_ops)",
]
CHART_INDEX = (
    "CREATE INDEX {concurrently} IF NOT EXISTS console_audit_action_day ON audit_auditevent (action, created_at)"
)
BACKWARD = [
    "DROP INDEX IF EXISTS console_user_first_name_prefix",
    "DROP INDEX IF EXISTS console_user_last_name_prefix",
    "DROP INDEX IF EXISTS console_audit_action_day",
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        statements = [
            *POSTGRES_FORWARD,
            CHART_INDEX.format(concurrently="CONCURRENTLY"),
            "ANALYZE accounts_user",
        ]
    else:
        statements = [CHART_INDEX.format(concurrently="")]
    for statement in statements:
        schema_editor.execute(statement)


def backward(apps, schema_editor):
    for statement in BACKWARD:
        if schema_editor.connection.vendor == "postgresql" or "audit" in statement:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("console", "0001_user_search_indexes"), ("audit", "0001_initial")]

    operations = [migrations.RunPython(forward, backward, elidable=False)]

"""Indexes for the console's user search (docs/console.md). They live here, not in accounts, because only the
console searches this way. Trigram and text_pattern_ops indexes exist only on PostgreSQL; SQLite (the
embedded default, small data) gets the ordering index only. CONCURRENTLY: adding them to a large live table
does not block sign-ups."""

from django.db import migrations

SEARCH_EXPRESSION = "lower(email || ' ' || coalesce(username, '') || ' ' || first_name || ' ' || last_name)"

POSTGRES_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    # Substring search (3+ characters) over e-mail, username and names at once.
    f"CREATE INDEX CONCURRENTLY IF NOT EXISTS console_user_search_trgm ON accounts_user "
    f"USING gin (({SEARCH_EXPRESSION}) gin_trgm_ops)",
    # Prefix search for 1-2 characters, which trigrams cannot narrow.
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS console_user_email_prefix ON accounts_user "
    "(lower(email) text_pattern_ops)",
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS console_user_username_prefix ON accounts_user "
    "(lower(username) text_pattern_ops)",
    # Statistics on the search expression (1000 buckets): the planner then tells a term matching 0.2 % of
    # users (walk the date_joined index, stop after one page) from a rare one (trigram bitmap, then sort).
    f"CREATE STATISTICS IF NOT EXISTS console_user_search_stats ON ({SEARCH_EXPRESSION}) FROM accounts_user",
    "ALTER STATISTICS console_user_search_stats SET STATISTICS 1000",
    # The status filters, in result order: a rare filter (staff) never scans every user, and a search
    # within a filter reads at most that filter's rows.
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS console_user_staff_joined ON accounts_user "
    "(date_joined DESC, id) WHERE is_staff",
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS console_user_deleted_joined ON accounts_user "
    "(date_joined DESC, id) WHERE deleted_at IS NOT NULL",
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS console_user_unverified_joined ON accounts_user "
    "(date_joined DESC, id) WHERE deleted_at IS NULL AND email_verified_at IS NULL",
]
ORDER_INDEX = "CREATE INDEX {concurrently} IF NOT EXISTS console_user_joined ON accounts_user (date_joined DESC, id)"
BACKWARD = [
    "DROP STATISTICS IF EXISTS console_user_search_stats",
    "DROP INDEX IF EXISTS console_user_search_trgm",
    "DROP INDEX IF EXISTS console_user_email_prefix",
    "DROP INDEX IF EXISTS console_user_username_prefix",
    "DROP INDEX IF EXISTS console_user_joined",
    "DROP INDEX IF EXISTS console_user_staff_joined",
    "DROP INDEX IF EXISTS console_user_deleted_joined",
    "DROP INDEX IF EXISTS console_user_unverified_joined",
]


def forward(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        statements = [*POSTGRES_FORWARD, ORDER_INDEX.format(concurrently="CONCURRENTLY"), "ANALYZE accounts_user"]
    else:
        statements = [ORDER_INDEX.format(concurrently="")]
    for statement in statements:
        schema_editor.execute(statement)


def backward(apps, schema_editor):
    for statement in BACKWARD:
        if schema_editor.connection.vendor == "postgresql" or "joined" in statement:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(forward, backward, elidable=False)]

"""What a sync changed: temporary triggers note the account of every row it writes.

An incremental sync usually touches a few hundred accounts of thousands; knowing which lets the
rescore recompute only those. The triggers are TEMP: they live on the sync's own connection,
vanish with it, and never change the cache's schema. Every write path is covered (upserts,
deletes, account removals, contacts' last activity), so no pull has to report its changes.
"""

from __future__ import annotations

import sqlite_utils

# Table -> the column naming its account.
TRACKED = {
    "accounts": "id",
    "arr_history": "account_id",
    "contacts": "account_id",
    "deals": "account_id",
    "tickets": "account_id",
    "survey_responses": "account_id",
    "touches": "account_id",
    "next_steps": "account_id",
    "enrollments": "account_id",
    "usage_weekly": "account_id",
    "user_activity": "account_id",
}


def track_changes(db: sqlite_utils.Database) -> None:
    """From now on, note (table, account) of every row inserted, updated or deleted."""
    conn = db.conn
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS changed_accounts "
        "(tbl TEXT NOT NULL, account_id TEXT NOT NULL, PRIMARY KEY (tbl, account_id)) WITHOUT ROWID"
    )
    # Emails whose analytics activity changed: a contact's last activity follows its email,
    # whichever account the activity was recorded under.
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS changed_emails (email TEXT PRIMARY KEY) WITHOUT ROWID"
    )
    # Contacts that are new or got another email: their last activity is looked up again.
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS changed_contact_emails (id TEXT PRIMARY KEY) WITHOUT ROWID"
    )
    conn.execute(
        "CREATE TEMP TRIGGER IF NOT EXISTS changed_contact_email_insert AFTER INSERT ON "
        "main.contacts BEGIN INSERT INTO changed_contact_emails SELECT NEW.id WHERE NOT EXISTS "
        "(SELECT 1 FROM changed_contact_emails WHERE id = NEW.id); END"
    )
    conn.execute(
        "CREATE TEMP TRIGGER IF NOT EXISTS changed_contact_email_update AFTER UPDATE OF email ON "
        "main.contacts WHEN OLD.email IS NOT NEW.email "
        "BEGIN INSERT INTO changed_contact_emails SELECT NEW.id WHERE NOT EXISTS "
        "(SELECT 1 FROM changed_contact_emails WHERE id = NEW.id); END"
    )
    # No INSERT OR IGNORE in the triggers: the statement that fires a trigger (an upsert, an
    # INSERT OR REPLACE) imposes its own conflict handling on the trigger's statements.
    for table, column in TRACKED.items():
        note = {
            row: f"INSERT INTO changed_accounts SELECT '{table}', {row}.{column} "
            f"WHERE {row}.{column} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM changed_accounts "
            f"WHERE tbl = '{table}' AND account_id = {row}.{column});"
            + (
                f" INSERT INTO changed_emails SELECT lower({row}.email) "
                f"WHERE {row}.email IS NOT NULL AND NOT EXISTS (SELECT 1 FROM changed_emails "
                f"WHERE email = lower({row}.email));"
                if table == "user_activity"
                else ""
            )
            for row in ("OLD", "NEW")
        }
        # An upsert that writes a row as it was (a record met again at the edge of the search
        # window) is no change: only a column that differs counts.
        columns = [r[1] for r in conn.execute(f"PRAGMA main.table_info({table})")]
        differs = " OR ".join(f'OLD."{c}" IS NOT NEW."{c}"' for c in columns)
        for event, when, body in (
            ("INSERT", "", note["NEW"]),
            ("UPDATE", f" WHEN {differs}", note["OLD"] + " " + note["NEW"]),
            ("DELETE", "", note["OLD"]),
        ):
            conn.execute(
                f"CREATE TEMP TRIGGER IF NOT EXISTS changed_{table}_{event.lower()} "
                f"AFTER {event} ON main.{table}{when} BEGIN {body} END"
            )


def is_tracking(db: sqlite_utils.Database) -> bool:
    """True once track_changes ran on this connection."""
    found = db.conn.execute(
        "SELECT 1 FROM temp.sqlite_master WHERE type = 'table' AND name = 'changed_accounts'"
    ).fetchone()
    return found is not None


def changed_accounts(db: sqlite_utils.Database, tables: tuple[str, ...] = ()) -> set[str]:
    """Accounts with a row written since tracking began (in ``tables`` only, when given)."""
    sql = "SELECT DISTINCT account_id FROM temp.changed_accounts"
    params: list[str] = []
    if tables:
        sql += f" WHERE tbl IN ({', '.join('?' for _ in tables)})"
        params = list(tables)
    return {r[0] for r in db.conn.execute(sql, params)}


def changed_tables(db: sqlite_utils.Database) -> set[str]:
    """The tracked tables written since tracking began."""
    return {r[0] for r in db.conn.execute("SELECT DISTINCT tbl FROM temp.changed_accounts")}


def contacts_with_new_email(db: sqlite_utils.Database) -> set[str]:
    """Contacts inserted, or whose email changed, since tracking began."""
    return {r[0] for r in db.conn.execute("SELECT id FROM temp.changed_contact_emails")}


def changed_emails(db: sqlite_utils.Database) -> set[str]:
    """Lower-cased emails of analytics users whose rows were written since tracking began."""
    return {r[0] for r in db.conn.execute("SELECT email FROM temp.changed_emails")}

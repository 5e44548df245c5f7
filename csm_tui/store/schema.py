"""The cache's schema as versioned migrations: one small function per version.

A fresh cache runs every migration in order; an older cache runs the ones it lacks, in place.
Dates are ISO strings: ``YYYY-MM-DD`` for days, ``YYYY-MM-DDTHH:MM:SS+00:00`` (UTC) for instants.
Ids from the CRM are strings (HubSpot ids are numeric strings); local ids are uuid4 hex strings.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

Migration = Callable[[sqlite3.Connection], None]


def _run(conn: sqlite3.Connection, script: str) -> None:
    """Run each statement of ``script`` inside the caller's transaction.

    (``executescript`` would COMMIT first, so a failed migration could not roll back.)
    """
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            conn.execute(statement)
            statement = ""
    if statement.strip():
        conn.execute(statement)


def _v1_core(conn: sqlite3.Connection) -> None:
    """The tables of docs/ARCHITECTURE.md."""
    _run(
        conn,
        """
        CREATE TABLE owners (
            id TEXT PRIMARY KEY,
            email TEXT,
            first_name TEXT,
            last_name TEXT,
            user_id TEXT,
            teams TEXT,                -- JSON list of team names
            archived INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE accounts (
            id TEXT PRIMARY KEY,       -- HubSpot company id
            name TEXT NOT NULL DEFAULT '',
            domain TEXT,
            owner_id TEXT,
            arr REAL,
            seats INTEGER,             -- seats licensed
            contract_start TEXT,       -- date
            renewal_date TEXT,         -- date
            cs_stage TEXT,             -- CRM lifecycle override
            churned_on TEXT,           -- date; churned / renewal lost
            industry TEXT,
            archived INTEGER NOT NULL DEFAULT 0,
            created_at TEXT,
            updated_at TEXT
        );
        CREATE TABLE arr_history (
            account_id TEXT NOT NULL,
            date TEXT NOT NULL,
            arr REAL NOT NULL,
            PRIMARY KEY (account_id, date)
        );
        CREATE TABLE contacts (
            id TEXT PRIMARY KEY,
            account_id TEXT,
            first_name TEXT,
            last_name TEXT,
            email TEXT,
            title TEXT,
            role TEXT NOT NULL DEFAULT 'user',   -- admin / champion / user
            unsubscribed INTEGER NOT NULL DEFAULT 0,
            bounced INTEGER NOT NULL DEFAULT 0,
            last_active TEXT,                    -- instant, from analytics
            archived INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT
        );
        CREATE TABLE deals (
            id TEXT PRIMARY KEY,
            account_id TEXT,
            name TEXT,
            stage TEXT,
            kind TEXT,                 -- new / renewal / expansion
            amount REAL,
            close_date TEXT,
            archived INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT
        );
        CREATE TABLE tickets (
            id TEXT PRIMARY KEY,
            account_id TEXT,
            subject TEXT,
            status TEXT,               -- open / closed
            priority TEXT,             -- LOW / MEDIUM / HIGH / URGENT
            escalated INTEGER NOT NULL DEFAULT 0,
            created_at TEXT,
            closed_at TEXT,
            csat INTEGER,              -- 1..5
            archived INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT
        );
        CREATE TABLE survey_responses (
            id TEXT PRIMARY KEY,
            account_id TEXT,
            contact_id TEXT,
            kind TEXT NOT NULL,        -- nps / csat
            score INTEGER NOT NULL,
            comment TEXT,
            submitted_at TEXT,
            archived INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT
        );
        CREATE TABLE usage_weekly (
            account_id TEXT NOT NULL,
            week TEXT NOT NULL,        -- date of the week's first day
            event TEXT NOT NULL,
            count INTEGER NOT NULL,
            users INTEGER NOT NULL,
            PRIMARY KEY (account_id, week, event)
        );
        CREATE TABLE user_activity (
            account_id TEXT NOT NULL,
            user_key TEXT NOT NULL,    -- analytics distinct id / person id
            email TEXT,
            last_seen TEXT,
            events_30d INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (account_id, user_key)
        );
        CREATE TABLE touches (
            id TEXT PRIMARY KEY,       -- local uuid, or 'crm:<type>:<id>' for ones pulled
            account_id TEXT NOT NULL,
            contact_id TEXT,
            kind TEXT NOT NULL,        -- call / email / meeting / qbr / note
            occurred_at TEXT NOT NULL,
            summary TEXT NOT NULL DEFAULT '',
            sentiment TEXT,            -- positive / neutral / negative
            remote_id TEXT,
            origin TEXT NOT NULL DEFAULT 'local',   -- local / crm
            created_at TEXT NOT NULL
        );
        CREATE TABLE next_steps (
            id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL,
            touch_id TEXT,
            title TEXT NOT NULL,
            due_date TEXT,
            done INTEGER NOT NULL DEFAULT 0,
            remote_id TEXT,
            origin TEXT NOT NULL DEFAULT 'local',
            created_at TEXT NOT NULL
        );
        CREATE TABLE sequences (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            user_id TEXT,
            steps INTEGER,
            created_at TEXT,
            updated_at TEXT
        );
        CREATE TABLE enrollments (
            id TEXT PRIMARY KEY,       -- local uuid or remote id
            contact_id TEXT NOT NULL,
            sequence_id TEXT NOT NULL,
            account_id TEXT,
            state TEXT NOT NULL,       -- queued / active / finished / failed
            enrolled_at TEXT,
            remote_id TEXT,
            origin TEXT NOT NULL DEFAULT 'local'
        );
        CREATE TABLE snoozes (
            account_id TEXT PRIMARY KEY,
            until TEXT NOT NULL,       -- date; the account returns on this day
            reason TEXT,
            created_at TEXT NOT NULL
        );
        CREATE TABLE outbox (
            id TEXT PRIMARY KEY,       -- uuid, also the idempotency marker sent to the CRM
            kind TEXT NOT NULL,        -- touch / next_step / enrollment
            ref_id TEXT NOT NULL,      -- id of the local row it pushes
            payload TEXT NOT NULL,     -- JSON
            state TEXT NOT NULL DEFAULT 'pending',  -- pending / failed / done
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            remote_id TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE sync_state (
            source TEXT NOT NULL,      -- crm / analytics
            object TEXT NOT NULL,      -- companies, contacts, ... / usage_weekly, user_activity
            cursor TEXT,               -- epoch ms (crm) or week (analytics)
            sync_started_at TEXT,
            last_success TEXT,
            last_error TEXT,
            stats TEXT,                -- JSON, e.g. {"rows": 10, "unmatched_groups": 2}
            PRIMARY KEY (source, object)
        );
        CREATE TABLE scores (
            account_id TEXT PRIMARY KEY,
            computed_at TEXT NOT NULL,
            health INTEGER,
            band TEXT,                 -- green / yellow / red
            drivers TEXT NOT NULL DEFAULT '[]',   -- JSON [{component, points, max, reason}]
            stage TEXT,
            stage_reason TEXT,
            tier TEXT,
            priority REAL NOT NULL DEFAULT 0,
            reasons TEXT NOT NULL DEFAULT '[]',   -- JSON list of short reason chips
            trend INTEGER,             -- health points over the last 4 weeks
            opportunity INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE score_history (
            account_id TEXT NOT NULL,
            week TEXT NOT NULL,
            health INTEGER NOT NULL,
            PRIMARY KEY (account_id, week)
        );
        """,
    )


def _v2_indexes(conn: sqlite3.Connection) -> None:
    """Indexes for the queries the UI, scoring and sync make."""
    _run(
        conn,
        """
        CREATE INDEX idx_accounts_owner ON accounts(owner_id);
        CREATE INDEX idx_accounts_domain ON accounts(domain);
        CREATE INDEX idx_contacts_account ON contacts(account_id);
        CREATE INDEX idx_contacts_email ON contacts(email);
        CREATE INDEX idx_deals_account ON deals(account_id);
        CREATE INDEX idx_tickets_account ON tickets(account_id);
        CREATE INDEX idx_surveys_account ON survey_responses(account_id, submitted_at);
        CREATE INDEX idx_usage_week ON usage_weekly(week);
        CREATE INDEX idx_touches_account ON touches(account_id, occurred_at);
        CREATE INDEX idx_touches_remote ON touches(remote_id);
        CREATE INDEX idx_next_steps_account ON next_steps(account_id, done, due_date);
        CREATE INDEX idx_enrollments_contact ON enrollments(contact_id, enrolled_at);
        CREATE INDEX idx_enrollments_account ON enrollments(account_id);
        CREATE INDEX idx_outbox_state ON outbox(state, created_at);
        CREATE INDEX idx_scores_priority ON scores(priority DESC);
        """,
    )


def _v3_score_reference(conn: sqlite3.Connection) -> None:
    """What the last full rescore ranked with (each account's tier and use per seat, and the
    week), so a one-account rescore reads it instead of scanning all the usage. Any change to
    the book's accounts or their ARR empties it (the next full rescore fills it again)."""
    _run(
        conn,
        """
        CREATE TABLE score_reference (
            account_id TEXT PRIMARY KEY,
            week TEXT NOT NULL,
            tier TEXT,
            usage_per_seat REAL NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX idx_score_reference_peers ON score_reference(week, tier, usage_per_seat);
        CREATE INDEX idx_accounts_active_arr ON accounts(arr) WHERE archived = 0;
        CREATE TRIGGER score_reference_account_added AFTER INSERT ON accounts
        BEGIN DELETE FROM score_reference; END;
        CREATE TRIGGER score_reference_account_removed AFTER DELETE ON accounts
        BEGIN DELETE FROM score_reference; END;
        CREATE TRIGGER score_reference_account_changed AFTER UPDATE OF archived, arr ON accounts
        WHEN OLD.archived IS NOT NEW.archived OR OLD.arr IS NOT NEW.arr
        BEGIN DELETE FROM score_reference; END;
        """,
    )


def _v4_user_activity_indexes(conn: sqlite3.Connection) -> None:
    """Indexes for the rescore's per-user reads: an admin's last sign of life by email, and
    each account's most active users (a seek per account instead of sorting every user)."""
    _run(
        conn,
        """
        CREATE INDEX idx_user_activity_email ON user_activity(account_id, lower(email), last_seen);
        CREATE INDEX idx_user_activity_top ON user_activity(account_id, events_30d DESC, user_key);
        """,
    )


def _v5_usage_summary(conn: sqlite3.Connection) -> None:
    """Each account's usage summed per week, for the rescore (store/usage_summary.py), and the
    triggers that mark it stale from the first week an analytics pull replaced."""
    _run(
        conn,
        """
        CREATE TABLE usage_summary (
            account_id TEXT NOT NULL,
            week TEXT NOT NULL,
            points REAL NOT NULL,      -- weighted event points (the settings' event weights)
            users INTEGER NOT NULL,    -- the most distinct users of one event
            features INTEGER NOT NULL, -- bit i: the i-th scored event was used (count > 0)
            PRIMARY KEY (account_id, week)
        ) WITHOUT ROWID;
        CREATE TABLE usage_summary_state (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            fingerprint TEXT,          -- the settings the points and bits were computed with
            stale_from TEXT            -- NULL: up to date; '': all stale; else the first week
        );
        INSERT INTO usage_summary_state (id, fingerprint, stale_from) VALUES (1, NULL, '');
        CREATE TRIGGER usage_summary_pull_added AFTER INSERT ON sync_state
        WHEN NEW.source = 'analytics' AND NEW.object = 'usage_weekly'
        AND NEW.last_success IS NOT NULL
        BEGIN
            UPDATE usage_summary_state SET stale_from = CASE WHEN stale_from IS NULL
            THEN COALESCE(NEW.cursor, '') ELSE MIN(stale_from, COALESCE(NEW.cursor, '')) END;
        END;
        CREATE TRIGGER usage_summary_pull_recorded AFTER UPDATE OF cursor, last_success
        ON sync_state
        WHEN NEW.source = 'analytics' AND NEW.object = 'usage_weekly'
        AND NEW.last_success IS NOT NULL
        BEGIN
            UPDATE usage_summary_state SET stale_from = CASE WHEN stale_from IS NULL
            THEN COALESCE(NEW.cursor, '') ELSE MIN(stale_from, COALESCE(NEW.cursor, '')) END;
        END;
        """,
    )


def _v6_sequences_per_user(conn: sqlite3.Connection) -> None:
    """Sequences are listed per HubSpot user (``GET /automation/v4/sequences?userId=``): one
    row per user and sequence, so a manager's view never merges two users' lists under one key."""
    _run(
        conn,
        """
        CREATE TABLE sequences_v6 (
            id TEXT NOT NULL,
            user_id TEXT NOT NULL DEFAULT '',
            name TEXT NOT NULL,
            steps INTEGER,
            created_at TEXT,
            updated_at TEXT,
            PRIMARY KEY (user_id, id)
        );
        INSERT OR IGNORE INTO sequences_v6 (id, user_id, name, steps, created_at, updated_at)
        SELECT id, COALESCE(user_id, ''), name, steps, created_at, updated_at FROM sequences;
        DROP TABLE sequences;
        ALTER TABLE sequences_v6 RENAME TO sequences;
        """,
    )


def _v7_ticket_signals_may_be_unknown(conn: sqlite3.Connection) -> None:
    """A ticket's ``escalated`` may be NULL: the portal has no such property, or none is set
    (crm.properties.ticket_escalated), so "not known" is not read as "not escalated"."""
    _run(
        conn,
        """
        CREATE TABLE tickets_v7 (
            id TEXT PRIMARY KEY,
            account_id TEXT,
            subject TEXT,
            status TEXT,               -- open / closed
            priority TEXT,             -- LOW / MEDIUM / HIGH / URGENT
            escalated INTEGER,         -- 1 / 0; NULL: not known
            created_at TEXT,
            closed_at TEXT,
            csat INTEGER,              -- 1..5; NULL: none or not known
            archived INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT
        );
        INSERT INTO tickets_v7 SELECT id, account_id, subject, status, priority, escalated,
            created_at, closed_at, csat, archived, updated_at FROM tickets;
        DROP TABLE tickets;
        ALTER TABLE tickets_v7 RENAME TO tickets;
        CREATE INDEX idx_tickets_account ON tickets(account_id);
        """,
    )


def _v8_score_days(conn: sqlite3.Connection) -> None:
    """Each account's score as of each day a rescore ran (the latest of the day): what changed
    since yesterday, or since any day, is read from two of these (csm-tui digest)."""
    _run(
        conn,
        """
        CREATE TABLE score_days (
            account_id TEXT NOT NULL,
            day TEXT NOT NULL,
            health INTEGER,
            band TEXT,
            stage TEXT,
            drivers TEXT NOT NULL DEFAULT '[]',
            PRIMARY KEY (account_id, day)
        ) WITHOUT ROWID;
        CREATE INDEX idx_score_days_day ON score_days(day);
        """,
    )


def _v9_contact_phones_and_local_state(conn: sqlite3.Connection) -> None:
    """Contacts' phone numbers (HubSpot ``phone`` and ``mobilephone``); ``local_state``: what
    this machine remembers about itself, by key (when the app was last opened and what it
    showed then; which digest periods were posted to Slack)."""
    _run(
        conn,
        """
        ALTER TABLE contacts ADD COLUMN phone TEXT;
        ALTER TABLE contacts ADD COLUMN mobile_phone TEXT;
        CREATE TABLE local_state (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL DEFAULT '{}',   -- JSON
            updated_at TEXT NOT NULL
        );
        """,
    )


# What the search index holds of each table: (table, kind, account column, the text, the columns
# that text is made of). One document per row; its rowid is the row's id in search_keys.
SEARCHED = (
    (
        "accounts",
        "account",
        "id",
        "COALESCE({r}.name, '') || ' · ' || COALESCE({r}.domain, '')",
        ("name", "domain"),
    ),
    (
        "contacts",
        "contact",
        "account_id",
        "TRIM(COALESCE({r}.first_name, '') || ' ' || COALESCE({r}.last_name, '')) || ' · ' || "
        "COALESCE({r}.title, '') || ' · ' || COALESCE({r}.email, '')",
        ("account_id", "first_name", "last_name", "title", "email"),
    ),
    ("touches", "note", "account_id", "COALESCE({r}.summary, '')", ("account_id", "summary")),
    (
        "survey_responses",
        "survey",
        "account_id",
        "COALESCE({r}.comment, '')",
        ("account_id", "comment"),
    ),
    (
        "tickets",
        "ticket",
        "account_id",
        "COALESCE({r}.subject, '') || ' · ' || COALESCE({r}.body, '')",
        ("account_id", "subject", "body"),
    ),
)


def use_search_text(conn: sqlite3.Connection) -> None:
    """Give ``conn`` the SQL function ``search_text``: the text as it is indexed and shown,
    escape sequences and controls out (a word written between two colour codes stays a word)."""
    from csm_tui.domain.models import plain

    conn.create_function("search_text", 1, plain, deterministic=True)


def _search_triggers(table: str, kind: str, columns: tuple[str, ...]) -> str:
    """Triggers that note each row of ``table`` written (search_dirty): store/search.py's
    ``refresh_index`` indexes them again in one batch.

    Not the index itself: a trigger writing to FTS5 made every row's statement flush the
    index's pending terms (benchmarks/RESULTS.md, "Search"). An INSERT OR REPLACE fires no
    delete trigger; its insert trigger notes the row, which is enough.
    """
    note = f"INSERT INTO search_dirty (kind, ref) VALUES ('{kind}', {{r}}.id);"
    differs = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in columns)
    return (
        f"CREATE TRIGGER search_{table}_insert AFTER INSERT ON {table} "
        f"BEGIN {note.format(r='NEW')} END;\n"
        f"CREATE TRIGGER search_{table}_update AFTER UPDATE OF {', '.join(columns)} ON {table} "
        f"WHEN {differs} BEGIN {note.format(r='NEW')} END;\n"
        f"CREATE TRIGGER search_{table}_delete AFTER DELETE ON {table} "
        f"BEGIN {note.format(r='OLD')} END;\n"
    )


def _v10_search_and_snoozes(conn: sqlite3.Connection) -> None:
    """Search over the book (SQLite FTS5): account names and domains, contacts, notes, survey
    comments and tickets (now with their body), one document per row. Triggers note the rows
    written, whatever writes them; the index catches up in batches (store/search.py). Snoozes
    remember an early end (unsnooze), which undo takes back."""
    script = """
        ALTER TABLE tickets ADD COLUMN body TEXT;
        ALTER TABLE snoozes ADD COLUMN ended_at TEXT;     -- instant the CSM ended it early
        ALTER TABLE snoozes ADD COLUMN ended_until TEXT;  -- the day it was to end (for undo)
        CREATE TABLE search_keys (
            id INTEGER PRIMARY KEY,    -- the document's rowid in search_index
            kind TEXT NOT NULL,        -- account / contact / note / survey / ticket
            ref TEXT NOT NULL,         -- the row's id in its table
            UNIQUE (kind, ref)
        );
        CREATE TABLE search_dirty (    -- rows written since the index last caught up
            kind TEXT NOT NULL,
            ref TEXT NOT NULL
        );
        CREATE VIRTUAL TABLE search_index USING fts5(
            account_id UNINDEXED, kind UNINDEXED, body,
            tokenize = 'unicode61 remove_diacritics 2'
        );
    """
    use_search_text(conn)
    for table, kind, account, text, columns in SEARCHED:
        script += (
            f"INSERT INTO search_keys (kind, ref) SELECT '{kind}', id FROM {table};\n"
            f"INSERT INTO search_index (rowid, account_id, kind, body) "
            f"SELECT k.id, r.{account}, '{kind}', search_text({text.format(r='r')}) FROM {table} r "
            f"JOIN search_keys k ON k.kind = '{kind}' AND k.ref = r.id;\n"
        )
        script += _search_triggers(table, kind, columns)
    _run(conn, script)


def _v11_usage_coverage(conn: sqlite3.Connection) -> None:
    """Which accounts the cache holds the whole usage history of (analytics.weeks), by the
    group key it was pulled under: an account that joins the book later, or whose domain
    changes, gets its history on the next sync, not only the weeks a later sync re-pulls
    (csm_tui/sync/pull_analytics.py). Empty after migrating: the next sync pulls usage whole."""
    _run(
        conn,
        """
        CREATE TABLE usage_coverage (
            account_id TEXT PRIMARY KEY,
            group_key TEXT NOT NULL
        ) WITHOUT ROWID;
        """,
    )


MIGRATIONS: list[Migration] = [
    _v1_core,
    _v2_indexes,
    _v3_score_reference,
    _v4_user_activity_indexes,
    _v5_usage_summary,
    _v6_sequences_per_user,
    _v7_ticket_signals_may_be_unknown,
    _v8_score_days,
    _v9_contact_phones_and_local_state,
    _v10_search_and_snoozes,
    _v11_usage_coverage,
]
SCHEMA_VERSION = len(MIGRATIONS)

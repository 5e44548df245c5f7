"""`csm-tui doctor`: where everything is and what state it is in. Never prints a token."""

from __future__ import annotations

import argparse
from datetime import date

from csm_tui.config import Settings, masked_url
from csm_tui.sources.http import HttpPolicy
from csm_tui.store import outbox
from csm_tui.store.db import open_cache, schema_version, table_counts
from csm_tui.sync.engine import Spend


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Print the report; create nothing but the workspace's cache."""
    cfg = settings.config_file
    lines = [
        f"config file     {cfg} ({'exists' if cfg.exists() else 'not found; defaults in use'})",
        f"data dir        {settings.data_dir}",
        f"workspace       {settings.workspace}",
        f"cache           {settings.cache_path}",
    ]
    if settings.workspace == "demo":
        lines.append(
            "                (filled by `csm-tui demo` from the bundled fake APIs, not your CRM)"
        )
    db = open_cache(settings.cache_path, check=True)
    try:
        size = settings.cache_path.stat().st_size
        wal = settings.cache_path.with_name(settings.cache_path.name + "-wal")
        if wal.exists():
            size += wal.stat().st_size
        lines.append(f"cache size      {_size(size)}")
        lines.append(f"schema version  {schema_version(db.conn)}")
        check = str(db.execute("PRAGMA integrity_check").fetchone()[0])
        lines.append(
            "integrity       ok (PRAGMA integrity_check)"
            if check == "ok"
            else f"integrity       DAMAGED: {check[:200]} (a sync sets the file aside and rebuilds)"
        )
        lines.append(f"crm             {settings.crm.base_url}")
        lines.append(f"crm token       {'set' if settings.crm.token else 'not set'}")
        lines.append(f"crm owner       {settings.crm.owner_email or '(whole portal)'}")
        lines.append(f"analytics       {settings.analytics.base_url}")
        lines.append(f"analytics proj  {settings.analytics.project_id or '(not set)'}")
        lines.append(f"analytics token {'set' if settings.analytics.token else 'not set'}")
        webhook = settings.digest.slack_webhook_url
        lines.append(
            "slack webhook   "
            + (f"set ({masked_url(webhook.get_secret_value())})" if webhook else "not set")
        )
        lines.append("")
        lines.append("last sync")
        syncs = list(
            db.query(
                "SELECT source, MAX(last_success) AS ok, MAX(last_error) AS err "
                "FROM sync_state GROUP BY source ORDER BY source"
            )
        )
        if not syncs:
            lines.append("  never synced")
        for row in syncs:
            state = row["ok"] or "never succeeded"
            err = f"  (last error: {row['err']})" if row["err"] else ""
            lines.append(f"  {row['source']:<12}{state}{err}")
        spend = Spend.read(db)
        today = date.today().isoformat()
        budget = HttpPolicy.from_settings(settings).crm_daily
        used = spend.crm_today if spend.day == today else 0
        lines.append(
            f"  crm requests  {used:,} of the daily {budget:,} (http.crm_daily) by this "
            "workspace's syncs today"
        )
        waiting = outbox.counts(db)
        lines.append("")
        lines.append(
            f"outbox          {waiting[outbox.PENDING]} waiting, {waiting[outbox.FAILED]} failed, "
            f"{waiting[outbox.DONE]} pushed"
        )
        lines.append("")
        lines.append("rows")
        for name, n in table_counts(db).items():
            lines.append(f"  {name:<18}{n:>10,}")
    finally:
        db.conn.close()
    print("\n".join(lines))
    if getattr(args, "remote", False):
        from csm_tui.commands.doctor_remote import run_remote

        print()
        return run_remote(settings)
    return 0

"""`csm-tui` (and `csm-tui app`): open the app on the workspace's cache."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

from csm_tui.config import Settings

if TYPE_CHECKING:
    import httpx


def open_app(
    settings: Settings,
    transport_factory: Callable[[], httpx.AsyncBaseTransport] | None = None,
    today: date | None = None,
    sync_options: dict[str, Any] | None = None,
) -> int:
    """Run the app until the user quits; in-app syncs use ``transport_factory`` when given.

    ``sync_options`` are passed on to every in-app ``run_sync`` (e.g. the demo's HttpPolicy).
    """
    from csm_tui.store.db import open_connection

    # Open (create, migrate) the cache before the screen takes over: a damaged or too-new cache
    # is then a one-line error on the command line, not an empty app.
    open_connection(settings.cache_path).close()
    # Textual is imported here, not at module level: `csm-tui sync` and friends never load it.
    from csm_tui.ui.app import CsmApp

    app = CsmApp(
        settings, today=today, transport_factory=transport_factory, sync_options=sync_options
    )
    result = app.run()
    return int(result or 0)


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Open the app for the workspace in ``settings``."""
    return open_app(settings)

"""`csm-tui` (and `csm-tui app`): open the app on the workspace's cache."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date
from functools import partial
from typing import TYPE_CHECKING, Any

from csm_tui.opening import Opening, remember, remembered

if TYPE_CHECKING:
    import httpx

    from csm_tui.config import Settings


def open_app(
    settings: Settings | Opening,
    transport_factory: Callable[[], httpx.AsyncBaseTransport] | None = None,
    today: date | None = None,
    sync_options: dict[str, Any] | None = None,
    settings_loader: Callable[[], Settings] | None = None,
) -> int:
    """Run the app until the user quits; in-app syncs use ``transport_factory`` when given.

    ``sync_options`` are passed on to every in-app ``run_sync`` (e.g. the demo's HttpPolicy).
    ``settings`` may be the remembered opening values, with ``settings_loader`` to validate the
    whole settings after the first screen (see csm_tui/opening.py).
    """
    from csm_tui.store.db import open_connection

    # Open (create, migrate) the cache before the screen takes over: a damaged or too-new cache
    # is then a one-line error on the command line, not an empty app.
    open_connection(settings.cache_path).close()
    # Textual is imported here, not at module level: `csm-tui sync` and friends never load it.
    from csm_tui.ui.app import CsmApp

    app = CsmApp(
        settings,
        settings_loader=settings_loader,
        today=today,
        transport_factory=transport_factory,
        sync_options=sync_options,
    )
    result = app.run()
    return int(result or 0)


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Open the app for the workspace in ``settings``; remember its opening values."""
    remember(settings, args.workspace)
    return open_app(settings)


def _validated_settings(workspace: str | None) -> Settings:
    # pydantic is imported here, after the first screen: that is the point of the opening memo.
    from csm_tui.config import load_settings

    settings = load_settings(workspace=workspace)
    if remembered(workspace) != Opening.of(settings):
        remember(settings, workspace)
    return settings


def run_remembered(opening: Opening, args: argparse.Namespace) -> int:
    """Open the app on remembered opening values; the settings are validated once it is drawn."""
    return open_app(opening, settings_loader=partial(_validated_settings, args.workspace))

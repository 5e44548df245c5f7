"""Opening an account in the CRM (o): its HubSpot address in the browser, on the clipboard and
in a notice, so that a user over SSH (no browser here) can paste it.

Owned by the app (csm_tui/ui/app.py); the address is read in a thread worker.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from functools import partial

from csm_tui.ui.host import CsmHost, thread_worker
from csm_tui.ui.messages import ActionFailed, CrmLinkLoaded
from csm_tui.ui.threads import cache_db, one_line


def can_open_browser(platform: str, env: Mapping[str, str]) -> bool:
    """True where the system opener shows a browser window: macOS, Windows, or a graphical
    session that is not over SSH. Elsewhere Python's opener falls back to a text browser in
    this very terminal (lynx, w3m), over the app."""
    if platform == "darwin" or platform.startswith("win"):
        return not env.get("SSH_CONNECTION")
    graphical = bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))
    return graphical and not env.get("SSH_CONNECTION")


class CrmLink:
    """Finds an account's HubSpot address and hands it to the user."""

    def __init__(self, host: CsmHost) -> None:
        self.host = host

    def open(self, account_id: str) -> None:
        """Read the address in a worker (CrmLinkLoaded follows)."""
        thread_worker(self.host, partial(self._read, account_id), "crm-link")

    def _read(self, account_id: str) -> None:
        from csm_tui.store.crm_links import account_crm_url

        host = self.host
        try:
            with cache_db(host.opening.cache_path) as db:
                url, why = account_crm_url(db, account_id)
        except Exception as exc:  # one line for the user, never a crash
            host.post_message(ActionFailed(f"Cannot find the HubSpot link: {one_line(exc)}"))
            return
        host.post_message(CrmLinkLoaded(account_id, url, why))

    def loaded(self, message: CrmLinkLoaded) -> None:
        """Open the address, copy it, and show it."""
        host = self.host
        if message.url is None:
            host.notify(message.why, severity="warning", timeout=6)
            return
        host.copy_to_clipboard(message.url)
        opened = can_open_browser(sys.platform, os.environ)
        if opened:
            host.open_url(message.url)
        said = "Opened in the browser and copied" if opened else "Copied to the clipboard"
        host.notify(f"{said}: {message.url}", timeout=12)

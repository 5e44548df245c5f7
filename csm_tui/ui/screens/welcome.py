"""First run (no cache, no configuration): how to connect the CRM and analytics, or try the demo.

q quits; escape continues to the (empty) app.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from csm_tui.ui.safe_text import clean

ENV_VARS: tuple[tuple[str, str], ...] = (
    ("CSM_TUI_CRM__TOKEN", "HubSpot private app token"),
    ("CSM_TUI_CRM__OWNER_EMAIL", "your HubSpot owner email (your book)"),
    ("CSM_TUI_ANALYTICS__TOKEN", "PostHog personal API key"),
    ("CSM_TUI_ANALYTICS__PROJECT_ID", "PostHog project id"),
)
TOML_EXAMPLE = """\
[crm]
token = "pat-na1-…"
owner_email = "you@yourcompany.com"
[analytics]
token = "phx_…"
project_id = "12345"
"""


def welcome_text(config_path: Path, data_dir: Path) -> Group:
    """What the welcome screen says (paths shown literally, never as markup)."""
    intro = Text.assemble(
        "No cache and no configuration yet. Connect your CRM (HubSpot) and product analytics "
        "(PostHog), then press ",
        ("r", "bold"),
        " to sync. The cache will live in ",
        (clean(data_dir), "underline"),
        ".",
    )
    demo = Text.assemble(
        ("Just looking? ", "bold"),
        "Quit (q) and run ",
        ("csm-tui demo", "bold reverse"),
        ": a made-up book of accounts, no tokens needed.",
    )
    env = Text("1. Set environment variables:\n", style="bold")
    for name, meaning in ENV_VARS:
        env.append(f"   {name:<31}", style="bold")
        env.append(f"{meaning}\n")
    conf = Text("2. Or write them in the config file (chmod 600: it holds tokens):\n", style="bold")
    conf.append("   " + clean(config_path), style="underline")
    example = Text("\n".join("   " + line for line in TOML_EXAMPLE.splitlines()), style="dim")
    blank = Text("")
    return Group(intro, blank, demo, blank, env, conf, example)


class WelcomeScreen(Screen[None]):
    """Shown on the very first start."""

    DEFAULT_CSS = """
    WelcomeScreen {
        align: center middle;
    }
    WelcomeScreen > #box {
        width: 84;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: thick $primary 60%;
        border-title-color: $text;
        background: $surface;
    }
    WelcomeScreen VerticalScroll {
        height: auto;
        max-height: 100%;
        padding: 0 1;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit_app", "Quit"),
        Binding("escape", "continue", "Continue to the app"),
    ]

    def __init__(self, config_path: Path, data_dir: Path) -> None:
        super().__init__()
        self.config_path = config_path
        self.data_dir = data_dir

    def compose(self) -> ComposeResult:
        box = Vertical(id="box")
        box.border_title = "Welcome to csm-tui"
        with box, VerticalScroll(id="scroll"):
            yield Static(welcome_text(self.config_path, self.data_dir))
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#scroll", VerticalScroll).focus()

    def action_quit_app(self) -> None:
        """Leave csm-tui."""
        self.app.exit()

    def action_continue(self) -> None:
        """Go on to the (empty) app."""
        self.dismiss(None)

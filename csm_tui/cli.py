"""The `csm-tui` command: parses arguments, loads settings, and hands over to one command module.

Each command lives in ``csm_tui/commands/<name>.py`` as ``run(settings, args) -> int`` and is
imported only when called, so `csm-tui --help` and the app's start stay fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

EPILOG = (
    "Settings come from flags > environment (CSM_TUI_..., nested with __) > the config file "
    "(CSM_TUI_CONFIG, default in your user config dir) > defaults. See `csm-tui doctor`."
)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _port(text: str) -> int:
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535, got {value}")
    return value


class _VersionAction(argparse.Action):
    """``--version``: prints the installed version, read only when asked for (start-up speed)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from csm_tui import __version__

        print(f"csm-tui {__version__}")  # stdout, as argparse's own "version" action does
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """The whole command line, every sub-command with --help and --workspace."""

    def with_workspace(default: object) -> argparse.ArgumentParser:
        common = argparse.ArgumentParser(add_help=False)
        common.add_argument(
            "--workspace",
            metavar="NAME",
            default=default,
            help="workspace (a folder of its own under the data dir); default: 'default'",
        )
        return common

    common = with_workspace(None)
    # A sub-command's own --workspace sets nothing when absent (SUPPRESS): a default there would
    # overwrite the one given before the command (`csm-tui --workspace demo today`).
    sub_common = with_workspace(argparse.SUPPRESS)
    parser = argparse.ArgumentParser(
        prog="csm-tui",
        description="Keyboard-driven triage for Customer Success Managers, from a local cache "
        "synced with HubSpot and PostHog. With no command, opens the app.",
        epilog=EPILOG,
        parents=[common],
    )
    parser.add_argument("--version", action=_VersionAction)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_, parents=[sub_common], epilog=EPILOG)
        p.add_argument("--version", action=_VersionAction)
        return p

    add("app", "open the app (the default)")

    p = add("demo", "fill the 'demo' workspace from the bundled fake APIs, then open the app")
    p.add_argument("--accounts", type=_positive_int, default=300, help="accounts (default 300)")
    p.add_argument("--seed", type=int, default=7, help="generator seed (default 7)")
    p.add_argument("--no-open", action="store_true", help="fill the workspace, do not open the app")
    p.add_argument(
        "--fresh", action="store_true", help="start over, dropping what you logged in the demo"
    )

    p = add("sync", "push the outbox to the CRM, then pull the CRM and analytics into the cache")
    p.add_argument("--full", action="store_true", help="ignore cursors and pull everything")
    only = p.add_mutually_exclusive_group()
    only.add_argument("--crm-only", action="store_true", help="only the CRM (push and pull)")
    only.add_argument("--analytics-only", action="store_true", help="only product analytics")

    p = add("today", "the ranked attention list: who needs you today, and why")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--segment", metavar="NAME", help="only accounts in this segment")
    p.add_argument("--limit", type=_positive_int, default=None, help="at most N accounts")
    p.add_argument("--due", action="store_true", help="the next steps due today or overdue")
    p.add_argument("--csv", action="store_true", help="CSV, for a spreadsheet")

    p = add("search", "find accounts by words in names, domains, contacts, notes, surveys, tickets")
    p.add_argument("words", nargs="*", metavar="WORDS", help="every word must match, each anywhere")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--limit", type=_positive_int, default=50, help="at most N accounts (50)")

    p = add("step", "complete, reschedule or retitle a next step (pushed to the CRM task)")
    p.add_argument("step_id", metavar="ID", help="the step's id (see `csm-tui today --due`)")
    p.add_argument("--done", action="store_true", help="mark it done")
    p.add_argument("--reopen", action="store_true", help="mark it open again")
    p.add_argument("--due", metavar="DATE", help="reschedule: 'fri', 'in 3 days', 'dec 15'")
    p.add_argument("--title", metavar="TEXT", help="a new title")

    p = add("digest", "what changed in the book since a day (bands, escalations, quiet champions…)")
    p.add_argument(
        "--since", metavar="WHEN", default="yesterday", help="yesterday (default), 7d, 2w, a date"
    )
    p.add_argument("--format", choices=["text", "markdown", "json"], default="text")
    p.add_argument(
        "--post",
        "--slack",
        action="store_true",
        help="also post it to Slack (digest.slack_webhook_url), once per period",
    )

    p = add("explain", "why an account's health moved since a day, component by component")
    p.add_argument("account", metavar="ACCOUNT", help="account id, domain or unambiguous name")
    p.add_argument(
        "--since", metavar="WHEN", default="4w", help="4w (default), 1w, yesterday, a date"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = add("portfolio", "book metrics (NRR, GRR, churn, NPS, CSAT, bands) and cohorts")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--period", choices=["90d", "quarter", "year"], default="90d")

    p = add("cohorts", "logo cohort retention matrix from any CSV of activity rows")
    p.add_argument("--csv", required=True, metavar="FILE", help="CSV file with a header row")
    p.add_argument("--id-column", required=True, metavar="C", help="column naming the customer")
    p.add_argument("--date-column", required=True, metavar="D", help="column with the date")
    p.add_argument("--date-format", metavar="F", help="strptime format (default: ISO dates)")
    p.add_argument("--counts", action="store_true", help="print counts instead of shares")

    p = add("score-check", "does the health score predict who leaves? (ROC AUC, bands, components)")
    p.add_argument(
        "--horizon",
        type=_positive_int,
        default=90,
        metavar="DAYS",
        help="score each outcome with the health this many days before it (default 90)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--csv", metavar="FILE", help="check a score kept elsewhere: a CSV file")
    p.add_argument("--score-column", metavar="S", help="with --csv: the column of the score")
    p.add_argument(
        "--outcome-column", metavar="O", help="with --csv: 1 or true if the account left"
    )

    p = add("score-diff", "what other weights or thresholds would change: bands, ranks, the check")
    p.add_argument(
        "--weight",
        action="append",
        default=[],
        metavar="C=W",
        help="a component's weight, e.g. usage=60 (repeatable)",
    )
    p.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="B=N",
        help="a band threshold, green=75 or yellow=45 (repeatable)",
    )
    p.add_argument("--config", metavar="FILE", help="a second config file to compare with")
    p.add_argument(
        "--ranks",
        type=_positive_int,
        default=10,
        metavar="N",
        help="list accounts moving more than N places in the attention list (default 10)",
    )
    p.add_argument(
        "--horizon", type=_positive_int, default=90, metavar="DAYS", help="as score-check"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = add("log", "record a touch offline; it is pushed to the CRM on the next sync")
    p.add_argument("account", metavar="ACCOUNT", help="account id, domain or unambiguous name")
    p.add_argument("--kind", required=True, choices=["call", "email", "meeting", "qbr", "note"])
    p.add_argument("--summary", required=True, metavar="TEXT")
    p.add_argument("--contact", metavar="EMAIL", help="the contact you spoke with")
    p.add_argument("--when", metavar="WHEN", help="e.g. 'yesterday 14:00', '2d ago' (default now)")
    p.add_argument("--sentiment", choices=["positive", "neutral", "negative"])
    p.add_argument("--next-step", metavar="TEXT", help="plan a next step")
    p.add_argument("--due", metavar="DATE", help="due date of the next step")

    p = add("outbox", "list actions waiting to be pushed; retry or discard a failed one")
    act = p.add_mutually_exclusive_group()
    act.add_argument("--retry", metavar="ID", help="put a failed item back in line")
    act.add_argument("--discard", metavar="ID", help="drop a waiting or failed item")
    p.add_argument("--yes", action="store_true", help="discard without asking")

    p = add("doctor", "show config, paths, cache health, sync state and the outbox")
    p.add_argument(
        "--remote",
        action="store_true",
        help="also ask HubSpot and PostHog: tokens, scopes per feature, custom properties, "
        "owner, project timezone and group type (exit 1 on a problem)",
    )

    p = add("fake-api", "serve the fake HubSpot and PostHog APIs on a loopback port")
    p.add_argument("--port", type=_port, default=8765)
    p.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    p.add_argument("--accounts", type=_positive_int, default=300)
    p.add_argument("--seed", type=int, default=7)
    return parser


COMMANDS = {
    "app": "app",
    "demo": "demo",
    "sync": "sync",
    "today": "today",
    "search": "search",
    "digest": "digest",
    "explain": "explain",
    "step": "step",
    "portfolio": "portfolio",
    "cohorts": "cohorts",
    "score-check": "score_check",
    "score-diff": "score_diff",
    "log": "log",
    "outbox": "outbox",
    "doctor": "doctor",
    "fake-api": "fake_api",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    from csm_tui.errors import CsmError

    args = build_parser().parse_args(argv)
    command = args.command or "app"
    try:
        from csm_tui.paths import config_path, config_warnings

        for warning in config_warnings(config_path()):
            print(f"csm-tui: {warning}", file=sys.stderr)
        if command == "app":
            from csm_tui.opening import remembered

            opening = remembered(args.workspace)
            if opening is not None:  # nothing changed since the last start: open at once
                from csm_tui.commands.app import run_remembered

                return run_remembered(opening, args)
        from csm_tui.config import load_settings

        settings = load_settings(workspace=args.workspace)
        module = importlib.import_module(f"csm_tui.commands.{COMMANDS[command]}")
        return int(module.run(settings, args) or 0)
    except CsmError as exc:
        print(f"csm-tui: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("csm-tui: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `csm-tui today | head`: the reader has what it wanted. Say nothing more, as cat does
        # (stdout is pointed at /dev/null so the interpreter's final flush stays quiet too).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:
        if os.environ.get("CSM_TUI_DEBUG"):
            raise
        print(
            f"csm-tui: unexpected error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            " (set CSM_TUI_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return 1

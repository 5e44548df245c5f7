"""`csm-tui score-diff`: what other weights or thresholds would change, before changing them.

The other settings come from ``--weight C=W`` and ``--threshold B=N`` flags, or a second config
file (its [scoring] and [tiers] sections and the analytics event weights), flags last. The book is
rescored in memory with each (csm_tui/store/score_diff.py); nothing is written to the cache.
"""

from __future__ import annotations

import argparse
import json
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from csm_tui.commands.score_check import check_lines
from csm_tui.config import Settings
from csm_tui.domain.vocabulary import BAND_SYMBOLS
from csm_tui.errors import CsmError

SCORING_ANALYTICS_KEYS = (
    "key_features",
    "activation_event",
    "event_weights",
    "default_event_weight",
)
THRESHOLDS = ("green", "yellow")
LISTED = 25  # accounts listed per kind of change in the text output (all of them in JSON)


class ScoreDiffInputError(CsmError):
    """The other settings cannot be read; one line says which and why."""

    exit_code = 2


def _pairs(values: list[str], flag: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for text in values:
        name, sep, raw = text.partition("=")
        name = name.strip().lower()
        if not sep or not name:
            raise ScoreDiffInputError(f"{flag} {text!r}: expected NAME=NUMBER, e.g. usage=60")
        try:
            found[name] = float(raw)
        except ValueError:
            raise ScoreDiffInputError(f"{flag} {text!r}: {raw.strip()!r} is not a number") from None
    return found


def _file_sections(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ScoreDiffInputError(f"Config file not found: {path}")
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ScoreDiffInputError(f"Config file {path}: TOML syntax error: {exc}") from None
    except OSError as exc:
        raise ScoreDiffInputError(f"Config file {path}: cannot be read: {exc.strerror}") from None
    return data


def other_settings(
    settings: Settings,
    weights: dict[str, float],
    thresholds: dict[str, float],
    config: Path | None = None,
) -> Settings:
    """``settings`` with another config file's scoring sections, then the flags, validated."""
    from csm_tui.config import ScoringSettings, TierSettings

    scoring = settings.scoring.model_dump()
    tiers = settings.tiers.model_dump()
    analytics = settings.analytics
    where = "the flags"
    if config is not None:
        where = f"config file {config}"
        data = _file_sections(config)
        scoring = {**scoring, **data.get("scoring", {})}
        tiers = {**tiers, **data.get("tiers", {})}
        extra = {k: v for k, v in data.get("analytics", {}).items() if k in SCORING_ANALYTICS_KEYS}
        analytics = analytics.model_copy(update=extra)
    unknown = sorted(set(thresholds) - set(THRESHOLDS))
    if unknown:
        raise ScoreDiffInputError(f"--threshold {unknown[0]}: the thresholds are green and yellow")
    if weights:
        scoring["weights"] = {**scoring["weights"], **weights}
    for band, value in thresholds.items():
        if value != int(value):
            raise ScoreDiffInputError(f"--threshold {band}={value:g}: expected a whole number")
        scoring[band] = int(value)
    if weights or thresholds:
        where = "the flags" if config is None else f"{where} and the flags"
    try:
        return settings.model_copy(
            update={
                "scoring": ScoringSettings(**scoring),
                "tiers": TierSettings(**tiers),
                "analytics": type(analytics).model_validate(analytics.model_dump()),
            }
        )
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or "scoring"
        msg = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        raise ScoreDiffInputError(f"Other settings from {where}: {field}: {msg}") from None


def _standing(health: int | None, band: str | None) -> str:
    symbol = BAND_SYMBOLS.get(band or "", "·")
    return f"{symbol} {'–' if health is None else health:>3}"


def run(settings: Settings, args: argparse.Namespace, today: date | None = None) -> int:
    """Print what would change (text, or JSON with --json)."""
    from csm_tui.store.db import open_cache
    from csm_tui.store.score_diff import score_diff

    weights = _pairs(args.weight, "--weight")
    thresholds = _pairs(args.threshold, "--threshold")
    config = Path(args.config).expanduser() if args.config else None
    if not weights and not thresholds and config is None:
        raise ScoreDiffInputError(
            "Say what to compare with: --weight usage=60, --threshold green=75 or --config FILE"
        )
    after = other_settings(settings, weights, thresholds, config)
    if not settings.cache_path.exists():
        raise CsmError(
            f"No accounts in the cache of workspace {settings.workspace!r}: run `csm-tui sync`, "
            "or `csm-tui demo` and then `csm-tui score-diff --workspace demo ...`."
        )
    db = open_cache(settings.cache_path, create=False)
    try:
        diff = score_diff(
            db, settings, after, today or date.today(), ranks=args.ranks, horizon=args.horizon
        )
    finally:
        db.conn.close()
    if args.json:
        print(json.dumps(diff.to_json(), indent=2))
        return 0
    from csm_tui.domain.models import plain

    lines = [
        f"Scoring workspace {settings.workspace!r} with the other settings (in memory; the "
        f"cache is unchanged): {diff.accounts} accounts",
        "",
        f"{len(diff.band_changes)} change band:",
    ]
    for c in diff.band_changes[:LISTED]:
        lines.append(
            f"  {plain(c.name)[:36]:<36}  {_standing(c.before.health, c.before.band)} → "
            f"{_standing(c.after.health, c.after.band)}   rank {c.before.rank} → {c.after.rank}"
        )
    if len(diff.band_changes) > LISTED:
        lines.append(f"  … and {len(diff.band_changes) - LISTED} more (--json lists them all)")
    lines += ["", f"{len(diff.rank_moves)} move more than {diff.ranks} places:"]
    for c in diff.rank_moves[:LISTED]:
        arrow = "up" if c.moved > 0 else "down"
        lines.append(
            f"  {plain(c.name)[:36]:<36}  rank {c.before.rank} → {c.after.rank} "
            f"({arrow} {abs(c.moved)})   health {c.before.health} → {c.after.health}"
        )
    if len(diff.rank_moves) > LISTED:
        lines.append(f"  … and {len(diff.rank_moves) - LISTED} more (--json lists them all)")
    for title, report in (
        ("now", diff.check_before),
        ("with the other settings", diff.check_after),
    ):
        if report is not None:
            lines += [
                "",
                f"Score check {title} (health {report.horizon} days before each outcome):",
            ]
            lines += check_lines(report.check)
    print("\n".join(lines))
    return 0

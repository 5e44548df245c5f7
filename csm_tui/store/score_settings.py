"""The scoring settings the last full rescore used, kept in the cache (local_state "scoring").

When the config file changes, the scores in the cache were made with the old settings until the
next rescore: the app compares, and shows once what the new settings would change (a preview,
csm_tui/store/score_diff.py). Pydantic is imported only where settings are rebuilt: the
rescore's helper process imports the rescore module, which imports this one.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from csm_tui.store.local_state import put_state, read_state

if TYPE_CHECKING:
    from csm_tui.config import Settings
    from csm_tui.store.db import Connected


def scoring_config(settings: Settings) -> dict[str, Any]:
    """Every setting a score reads: the scoring and tier sections and the analytics weights."""
    a = settings.analytics
    return {
        "scoring": settings.scoring.model_dump(mode="json"),
        "tiers": settings.tiers.model_dump(mode="json"),
        "analytics": {
            "key_features": list(a.key_features),
            "activation_event": a.activation_event,
            "event_weights": dict(a.event_weights),
            "default_event_weight": a.default_event_weight,
        },
    }


def fingerprint_of(config: dict[str, Any]) -> str:
    """A short hash of a ``scoring_config``: equal when the scores would be computed alike."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def scoring_fingerprint(settings: Settings) -> str:
    """``fingerprint_of(scoring_config(settings))``."""
    return fingerprint_of(scoring_config(settings))


def with_scoring_config(settings: Settings, config: dict[str, Any]) -> Settings:
    """``settings`` with the scoring config of another time (``scoring_config``'s shape)."""
    from csm_tui.config import ScoringSettings, TierSettings

    analytics = settings.analytics.model_copy(update=dict(config.get("analytics", {})))
    return settings.model_copy(
        update={
            "scoring": ScoringSettings(**config.get("scoring", {})),
            "tiers": TierSettings(**config.get("tiers", {})),
            "analytics": analytics,
        }
    )


@dataclass(frozen=True, slots=True)
class UsedConfig:
    """What the last full rescore scored with, and whether a change was previewed since."""

    fingerprint: str
    config: dict[str, Any]
    computed_at: str
    previewed: str | None  # the fingerprint of the settings whose preview was shown


STATE_KEY = "scoring"  # its key in local_state


def record_scoring_config(db: Connected, settings: Settings, computed_at: str) -> None:
    """Remember the settings a full rescore used, in the rescore's transaction (a cache opened
    without migrating, lacking local_state, is left alone)."""
    config = scoring_config(settings)
    value = {"fingerprint": fingerprint_of(config), "config": config, "computed_at": computed_at}
    try:
        put_state(db, STATE_KEY, {**value, "previewed": None})
    except sqlite3.OperationalError:
        return


def used_config(db: Connected) -> UsedConfig | None:
    """The settings of the last full rescore (None before the first one)."""
    try:
        kept = read_state(db, STATE_KEY)
    except sqlite3.OperationalError:
        return None
    config, fingerprint = kept.get("config"), kept.get("fingerprint")
    if not isinstance(config, dict) or not isinstance(fingerprint, str):
        return None
    previewed = kept.get("previewed")
    return UsedConfig(
        fingerprint,
        config,
        str(kept.get("computed_at") or ""),
        previewed if isinstance(previewed, str) else None,
    )


def mark_previewed(db: Connected, fingerprint: str) -> None:
    """The preview of the settings ``fingerprint`` was shown: not again until they change."""
    kept = read_state(db, STATE_KEY)
    if kept:
        put_state(db, STATE_KEY, {**kept, "previewed": fingerprint})

"""The attention list as rows for a CSV export: the columns the list shows, in its order."""

from __future__ import annotations

from csm_tui.store.views import AttentionItem
from csm_tui.ui.safe_text import clean
from csm_tui.ui.widgets.attention_list import OPPORTUNITY_CHIP, list_chip
from csm_tui.ui.widgets.formats import stage_title

LIST_VIEW_HEADERS = ("#", "Account", "Health", "Trend", "ARR", "Renews", "Stage", "Why")
LIST_VIEW_COLUMNS = ("rank", "account", "health", "trend", "arr", "renewal_date", "stage", "why")


def list_view_rows(items: list[AttentionItem]) -> list[dict[str, object]]:
    """``items`` as the list shows them: rank, name, health and its 4-week trend in points, ARR,
    the renewal day, the stage and the chips (numbers stay numbers)."""
    rows: list[dict[str, object]] = []
    for rank, item in enumerate(items, start=1):
        chips = [OPPORTUNITY_CHIP] if item.opportunity else []
        chips += [c for c in (list_chip(clean(r, 60)) for r in item.reasons) if c]
        rows.append(
            {
                "rank": rank,
                "account": clean(item.name) or clean(item.domain) or item.account_id,
                "health": item.health,
                "trend": item.trend,
                "arr": item.arr,
                "renewal_date": item.renewal_date,
                "stage": stage_title(item.stage) if item.stage else None,
                "why": " · ".join(chips),
            }
        )
    return rows

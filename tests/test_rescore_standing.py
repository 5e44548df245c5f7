"""A one-account rescore counts where the account stands in the book instead of reading it."""

from __future__ import annotations

from bisect import bisect_left, bisect_right

import sqlite_utils
from hypothesis import given
from hypothesis import strategies as st
from support.cache_builder import TODAY, CacheBuilder
from support.scores import scores, small_book

from csm_tui.config import Settings
from csm_tui.domain.ranking import arr_share
from csm_tui.domain.scoring import percentile_rank
from csm_tui.store.actions import log_touch
from csm_tui.store.rescore import rescore
from csm_tui.store.scoring_inputs import Standing, load_book_reference

values = st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.5, 2.5, 7.0, 40.0]), max_size=15)


def standing(value: float, book: list[float]) -> Standing:
    book = sorted(book)
    below = bisect_left(book, value)
    return Standing(value, below, bisect_right(book, value) - below, len(book))


@given(values, st.sampled_from([0.0, 0.5, 2.5, 3.0, 40.0, 99.0]))
def test_a_standing_ranks_its_value_exactly_as_the_list_it_stands_for(
    book: list[float], value: float
) -> None:
    place = standing(value, book)
    assert arr_share(value, place) == arr_share(value, sorted(book))
    assert percentile_rank(value, place) == percentile_rank(value, sorted(book))
    if book:  # with the account's own entry left out, whichever it is
        own = book[0]
        assert percentile_rank(value, place, own) == percentile_rank(value, sorted(book), own)
    assert len(place) == len(book) and list(place) == sorted(place)


def test_a_logged_touch_rescores_one_account_from_counts_as_a_full_rescore_would(
    db: sqlite_utils.Database, settings: Settings
) -> None:
    cache = CacheBuilder(db)
    small_book(cache)
    rescore(db, settings, TODAY)  # stores this week's reference (tiers, use per seat)
    reference = load_book_reference(db, settings, TODAY, ["quiet"], per_seat_now={"quiet": 0.4})
    assert reference.peers == {} and isinstance(reference.account_peers["quiet"], Standing)

    log_touch(
        db,
        account_id="quiet",
        kind="call",
        summary="Checked in",
        occurred_at=f"{TODAY.isoformat()}T09:00:00+00:00",
        sentiment="negative",
    )
    before = scores(db)["quiet"]
    rescore(db, settings, TODAY, account_ids=["quiet"])
    partial = scores(db)
    rescore(db, settings, TODAY)
    full = scores(db)

    assert partial["quiet"]["drivers"] != before["drivers"]  # the touch counted
    columns = ("health", "drivers", "tier", "priority", "reasons", "stage", "trend")
    for account in full:
        assert [partial[account][c] for c in columns] == [full[account][c] for c in columns]

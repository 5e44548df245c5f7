"""`csm-tui digest`: what changed since a day, each kind of change from the cache's own facts."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import httpx
import pytest
import sqlite_utils

from csm_tui.cli import main
from csm_tui.commands import digest as command
from csm_tui.config import ConfigError, load_settings
from csm_tui.domain.digest import parse_since, renewal_milestones, went_quiet
from csm_tui.sources.slack import SlackError
from csm_tui.store.digest import changes_since
from csm_tui.store.local_state import read_state

TODAY = date(2026, 12, 7)  # a Monday
SINCE = date(2026, 12, 6)


def fill(db: sqlite_utils.Database) -> None:
    db["accounts"].insert_all(
        [
            {"id": "a1", "name": "Acme", "renewal_date": "2027-01-06", "archived": 0},  # 30 d
            {"id": "a2", "name": "Globex", "renewal_date": "2027-09-01", "archived": 0},
            {"id": "a3", "name": "Initech", "renewal_date": "2027-09-01", "archived": 0},
        ],
        alter=True,
    )
    db["score_days"].insert_all(
        [
            {"account_id": "a1", "day": "2026-12-06", "health": 55, "band": "yellow", "stage": ""},
            {"account_id": "a1", "day": "2026-12-07", "health": 38, "band": "red", "stage": ""},
            {"account_id": "a2", "day": "2026-12-06", "health": 66, "band": "yellow", "stage": ""},
            {"account_id": "a2", "day": "2026-12-07", "health": 72, "band": "green", "stage": ""},
            {"account_id": "a3", "day": "2026-12-01", "health": 80, "band": "green", "stage": ""},
            {"account_id": "a3", "day": "2026-12-07", "health": 81, "band": "green", "stage": ""},
        ]
    )
    db["tickets"].insert_all(
        [
            {"id": "t1", "account_id": "a2", "subject": "SSO down", "status": "open",
             "priority": "HIGH", "escalated": 1, "created_at": "2026-12-07T08:00:00+00:00"},
            {"id": "t2", "account_id": "a3", "subject": "Old", "status": "open",
             "priority": "URGENT", "escalated": 0, "created_at": "2026-11-01T08:00:00+00:00"},
        ]
    )  # fmt: skip
    db["contacts"].insert_all(
        [
            {"id": "c1", "account_id": "a3", "email": "cham@initech.com", "role": "champion",
             "last_active": "2026-11-07T09:00:00+00:00"},  # 30 days today
            {"id": "c2", "account_id": "a3", "email": "user@initech.com", "role": "user",
             "last_active": "2026-11-07T09:00:00+00:00"},  # a user: not a change
        ]
    )  # fmt: skip
    db["survey_responses"].insert(
        {"id": "s1", "account_id": "a1", "kind": "nps", "score": 3, "comment": "Too slow",
         "submitted_at": "2026-12-07T10:00:00+00:00"}
    )  # fmt: skip
    weeks = [f"2026-{m:02d}-{d:02d}" for m, d in [(9, 7), (9, 14), (9, 21), (9, 28), (10, 5),
             (10, 12), (10, 19), (10, 26), (11, 2), (11, 9), (11, 16), (11, 23), (11, 30)]]  # fmt: skip
    rows = [{"account_id": "a2", "week": w, "event": "login", "count": 100, "users": 5}
            for w in weeks[:8]]  # fmt: skip
    # Three weeks at 30% of the baseline: the four weeks before this Monday average 47.5%
    # (a cliff), the four before last Monday 65% (not yet one).
    rows += [{"account_id": "a2", "week": w, "event": "login", "count": c, "users": 5}
             for w, c in zip(weeks[8:], [100, 100, 30, 30, 30], strict=True)]  # fmt: skip
    db["usage_weekly"].insert_all(rows)


def test_each_kind_of_change_since_yesterday_is_found_once(db: sqlite_utils.Database) -> None:
    fill(db)
    found = {(c.kind, c.account_id) for c in changes_since(db, SINCE, TODAY)}
    assert found == {
        ("band_down", "a1"),
        ("band_up", "a2"),
        ("escalation", "a2"),
        ("usage_cliff", "a2"),
        ("went_quiet", "a3"),
        ("detractor", "a1"),
        ("renewal", "a1"),
    }


def test_the_command_prints_text_markdown_and_json(db: sqlite_utils.Database, capsys) -> None:
    fill(db)
    settings = load_settings()
    args = type("Args", (), {"since": "yesterday", "format": "markdown"})()
    assert command.run(settings, args, today=TODAY) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("Since 2026-12-06 (to 2026-12-07): 1 moved down a band")
    assert "- **Acme**: health 55 yellow -> 38 red; NPS 3: Too slow; renews in 30 days" in out
    args.format = "json"
    command.run(settings, args, today=TODAY)
    data = json.loads(capsys.readouterr().out)
    assert data["since"] == "2026-12-06" and data["changes"][0]["kind"] == "band_down"


def test_a_since_it_cannot_read_is_one_line(db: sqlite_utils.Database, capsys) -> None:
    assert main(["digest", "--since", "whenever"]) == 2
    err = capsys.readouterr().err
    assert "not a day to compare with" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [("yesterday", date(2026, 12, 6)), ("1d", date(2026, 12, 6)), ("7d", date(2026, 11, 30)),
     ("2w", date(2026, 11, 23)), ("2026-11-20", date(2026, 11, 20)), ("last fri", date(2026, 12, 4))],
)  # fmt: skip
def test_since_takes_the_forms_people_type(text: str, expected: date) -> None:
    assert parse_since(text, TODAY) == expected


def test_milestones_and_silence_count_only_crossings_inside_the_window() -> None:
    assert renewal_milestones(date(2027, 1, 6), SINCE, TODAY) == [30]
    assert renewal_milestones(date(2027, 1, 7), SINCE, TODAY) == []  # 30 days is tomorrow
    assert went_quiet(date(2026, 11, 7), SINCE, TODAY)
    assert not went_quiet(date(2026, 11, 6), SINCE, TODAY)  # already quiet yesterday


# -- --post: Slack, once per period (a local fake webhook, never the network) ------------------

WEBHOOK = "https://hooks.slack.com/services/T0SECRET/B0SECRET/xoxSECRETSECRETSECRET"


class FakeWebhook:
    """A Slack incoming webhook as its docs describe it: a JSON POST of {"text": ...}, 200 "ok";
    ``refuse`` answers with that status and a short code instead."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.refuse: tuple[int, str] | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.method == "POST" and str(request.url) == WEBHOOK
        assert request.headers["content-type"] == "application/json"
        body = json.loads(request.content)
        assert set(body) == {"text"} and isinstance(body["text"], str)
        if self.refuse is not None:
            return httpx.Response(self.refuse[0], text=self.refuse[1])
        self.texts.append(body["text"])
        return httpx.Response(200, text="ok")


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> FakeWebhook:
    monkeypatch.setenv("CSM_TUI_DIGEST__SLACK_WEBHOOK_URL", WEBHOOK)
    return FakeWebhook()


def post(fake: FakeWebhook) -> int:
    args = type("Args", (), {"since": "yesterday", "format": "text", "post": True})()
    return command.run(load_settings(), args, today=TODAY, transport=httpx.MockTransport(fake))


def test_the_digest_is_posted_as_mrkdwn_once_per_period(
    db: sqlite_utils.Database, webhook: FakeWebhook, capsys
) -> None:
    fill(db)
    db["accounts"].update("a3", {"name": "<!channel> & Initech"})
    assert post(webhook) == 0
    assert post(webhook) == 0  # cron runs it again the same day
    [text] = webhook.texts
    lines = text.splitlines()
    assert lines[0].startswith("*Since 2026-12-06 (to 2026-12-07): 1 moved down a band")
    assert "• *Acme*: health 55 yellow -&gt; 38 red; NPS 3: Too slow; renews in 30 days" in lines
    assert any(ln.startswith("• *&lt;!channel&gt; &amp; Initech*: ") for ln in lines)
    assert "<!channel>" not in text  # Slack would ping the whole channel
    err = capsys.readouterr().err
    assert "posted to Slack\n" in err and "was posted to Slack already; not posting it again" in err
    assert read_state(db, "slack_digest:2026-12-06..2026-12-07")["state"] == "posted"


def test_a_failed_post_says_so_in_one_line_and_the_next_run_posts_it(
    db: sqlite_utils.Database, webhook: FakeWebhook
) -> None:
    fill(db)
    webhook.refuse = (404, "no_team")
    with pytest.raises(SlackError) as refused:
        post(webhook)
    assert "(404 no_team); it will be posted on the next run" in str(refused.value)
    assert "SECRET" not in str(refused.value) and "\n" not in str(refused.value)
    assert read_state(db, "slack_digest:2026-12-06..2026-12-07")["state"] == "failed"
    webhook.refuse = None
    assert post(webhook) == 0
    assert len(webhook.texts) == 1


def test_a_crash_between_slacks_ok_and_the_record_posts_again_at_least_once(
    db: sqlite_utils.Database, webhook: FakeWebhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(db)
    real_write = command.write_state

    def crash_on_posted(db: sqlite_utils.Database, key: str, value: dict[str, object]) -> None:
        if value.get("state") == "posted":
            raise KeyboardInterrupt  # the process dies after Slack's 200, before the record
        real_write(db, key, value)

    monkeypatch.setattr(command, "write_state", crash_on_posted)
    with pytest.raises(KeyboardInterrupt):
        post(webhook)
    monkeypatch.setattr(command, "write_state", real_write)
    assert post(webhook) == 0
    assert post(webhook) == 0
    assert len(webhook.texts) == 2  # once more after the crash, then never again


def test_post_without_a_webhook_is_one_line(db: sqlite_utils.Database, capsys) -> None:
    assert main(["digest", "--post"]) == 2
    err = capsys.readouterr().err
    assert "--post needs a Slack incoming webhook: set digest.slack_webhook_url" in err
    assert err.count("\n") == 1


def test_the_webhook_url_is_never_printed_in_full(
    db: sqlite_utils.Database, webhook: FakeWebhook, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings()
    assert "SECRET" not in repr(settings) and "SECRET" not in str(settings.model_dump())
    assert main(["doctor"]) in (0, 1)
    out = capsys.readouterr()
    assert "slack webhook   set (https://hooks.slack.com/…)" in out.out
    assert "SECRET" not in out.out + out.err
    monkeypatch.setenv("CSM_TUI_DIGEST__SLACK_WEBHOOK_URL", "http://hooks.example/SECRET")
    with pytest.raises(ConfigError) as bad:
        load_settings()
    assert "digest.slack_webhook_url: must use https://" in str(bad.value)
    assert "SECRET" not in str(bad.value)

"""`csm-tui doctor --remote`: asks the services whether the settings work, one line per problem
with its fix, and exits non-zero when there is one. Run against the in-process fakes, which
answer HubSpot's token-info and properties endpoints and PostHog's project and group types as
the real services do."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from support.readme import README

from csm_tui.cli import build_parser, main
from csm_tui.commands.doctor_remote import FEATURES, RemoteReport, check_remote, run_remote
from csm_tui.config import Settings, load_settings
from csm_tui.fakes.router import FakeApis
from csm_tui.sources.http import HttpPolicy

NOW = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
LOGIN = "csm@us.test"
FAST = HttpPolicy(attempts=1, wait_initial=0.001, wait_max=0.002, wait_jitter=0.0,
                  max_retry_after=0.0)  # fmt: skip


@pytest.fixture
def apis() -> FakeApis:
    """A portal with one owner: every scope granted, every property the demo uses."""
    made = FakeApis(clock=lambda: NOW)
    made.hubspot.add_owner(LOGIN, "Casey", "Morgan", user_id=4242)
    return made


def configured(**crm: object) -> Settings:
    """Settings naming the ticket properties, pointed at the fakes."""
    return load_settings(
        crm={
            "base_url": "http://127.0.0.1:9",
            "token": "demo-hubspot-token",
            "owner_email": LOGIN,
            "properties": {"ticket_escalated": "escalated", "ticket_csat": "csat_score"},
            **crm,
        },
        analytics={
            "base_url": "http://127.0.0.1:9",
            "token": "demo-posthog-token",
            "project_id": "1",
        },
    )


def check(settings: Settings, apis: FakeApis) -> RemoteReport:
    return asyncio.run(check_remote(settings, transport=apis.transport(), policy=FAST))


def test_a_missing_scope_and_a_missing_custom_property_are_one_line_each(
    apis: FakeApis, capsys: pytest.CaptureFixture[str]
) -> None:
    # The app was not granted email access, and the portal has no ticket CSAT property.
    apis.hubspot.scopes.discard("sales-email-read")
    apis.hubspot.schema["tickets"].pop("csat_score")
    report = check(configured(), apis)
    scope, prop = report.problems
    assert "sales-email-read" in scope and "emails" in scope
    assert "add it to the private app's scopes" in scope
    assert "'csat_score'" in prop and "crm.properties.ticket_csat" in prop
    assert "escalated" not in prop, "the property that exists is not reported"
    # Printed, each is one line; the command fails.
    assert run_remote(configured(), transport=apis.transport()) == 1
    printed = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("  problem: ") for line in printed) == 2
    assert printed[-1] == "2 problems found"


def test_a_sound_set_up_shows_what_it_found_and_passes(apis: FakeApis) -> None:
    report = check(configured(sender_email="casey@mail.us.test"), apis)
    assert report.problems == []
    found = "\n".join(text for _, text in report.entries)
    assert "crm owner: csm@us.test is owner" in found and "user 4242" in found
    assert "casey@mail.us.test (crm.sender_email)" in found
    assert "crm daily budget:" in found and "requests left" in found
    assert "timezone" in found and "analytics group type 0" in found


def test_a_rejected_token_is_one_line_and_the_rest_of_the_crm_is_not_asked(
    apis: FakeApis,
) -> None:
    report = check(configured(token="pat-na1-expired"), apis)
    (problem,) = report.problems
    assert "token rejected (401)" in problem and "CSM_TUI_CRM__TOKEN" in problem
    assert "pat-na1-expired" not in problem
    assert [r.url.path for r in apis.hubspot.requests] == [
        "/oauth/v2/private-apps/get/access-token-info"
    ]


def test_an_unknown_owner_and_group_index_are_reported_with_their_fixes(apis: FakeApis) -> None:
    settings = configured(owner_email="nobody@us.test")
    settings.analytics.group_index = 4
    report = check(settings, apis)
    owner, group = report.problems
    assert "crm.owner_email nobody@us.test is no HubSpot owner" in owner
    assert "analytics.group_index 4" in group and "set it to the index" in group


def test_every_feature_scope_is_in_the_readme_and_the_flag_is_wired() -> None:
    for feature in FEATURES:
        row = f"| {feature.name} | {', '.join(f'`{s}`' for s in feature.scopes)} |"
        assert row in README, row
    assert build_parser().parse_args(["doctor"]).remote is False


def test_doctor_remote_without_a_token_says_so_and_fails(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # No token, no analytics: nothing is sent anywhere, and the missing token is the problem.
    assert main(["doctor"]) == 0
    assert main(["doctor", "--remote"]) == 1
    out = capsys.readouterr().out
    assert "  problem: CRM token is not set: set CSM_TUI_CRM__TOKEN" in out
    assert "analytics not configured" in out and out.rstrip().endswith("1 problem found")

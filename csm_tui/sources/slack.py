"""A Slack incoming webhook: one JSON POST of ``{"text": ...}`` (mrkdwn), nothing else.

Slack's docs (docs.slack.dev, "Incoming webhooks"; api.slack.com/messaging/webhooks): POST the
JSON payload with ``Content-type: application/json`` to the webhook's URL; Slack answers 200
with the body ``ok``, and an error status with a short code in the body (e.g. 404 ``no_team``,
403 ``invalid_token``, 400 ``invalid_payload``). The URL is the credential, so no message here
ever contains it; redirects are not followed (a redirect would take the text elsewhere).
"""

from __future__ import annotations

from typing import Any

import httpx

from csm_tui.config import masked_url
from csm_tui.errors import CsmError

TIMEOUT_SECONDS = 15.0


class SlackError(CsmError):
    """Slack did not take the message; the text is one line without the webhook URL."""

    exit_code = 1


def escape_mrkdwn(text: str) -> str:
    """Text shown as it is in mrkdwn: Slack parses &, < and > (links, @channel), so they are
    sent as HTML entities (api.slack.com/reference/surfaces/formatting#escaping)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def post_text(url: str, text: str, *, transport: httpx.BaseTransport | None = None) -> None:
    """Post ``text`` (mrkdwn) to the incoming webhook at ``url``; SlackError when refused."""
    shown = masked_url(url)
    options: dict[str, Any] = {"timeout": TIMEOUT_SECONDS, "follow_redirects": False}
    if transport is not None:
        options["transport"] = transport
    try:
        with httpx.Client(**options) as client:
            answer = client.post(url, json={"text": text})
    except httpx.HTTPError as exc:
        raise SlackError(
            f"Slack webhook {shown} could not be reached ({type(exc).__name__}); "
            "it will be posted on the next run"
        ) from None
    if answer.status_code != 200:
        said = " ".join(answer.text.split())[:80] or "no reason given"
        said = said.replace(url, shown)
        raise SlackError(
            f"Slack webhook {shown} refused the digest ({answer.status_code} {said}); "
            "it will be posted on the next run"
        )

"""The lifecycle stage as a stepper: Onboarding › Adoption › Expansion › Renewal › Retention / Win-back."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from csm_tui.ui.safe_text import clean
from csm_tui.ui.widgets.content_updates import update_if_changed
from csm_tui.ui.widgets.formats import stage_title

STEPS = ("Onboarding", "Adoption", "Expansion", "Renewal", "Retention")
LAST_ALTERNATIVE = "Win-back"


def stepper_content(stage: str | None, reason: str) -> Content:
    """The stepper line with the current stage highlighted, and its reason below."""
    current = stage_title(stage)
    parts: list[str | tuple[str, str]] = []
    for n, step in enumerate(STEPS):
        if n:
            parts.append((" › ", "$text-muted"))
        # The current step is marked by a sign as well as colour (monochrome, colour blindness).
        parts.append(
            (f"▸{step}", "bold reverse $accent") if step == current else (step, "$text-muted")
        )
    parts.append((" / ", "$text-muted"))
    parts.append(
        (f"▸{LAST_ALTERNATIVE}", "bold reverse $band-red")
        if current == LAST_ALTERNATIVE
        else (LAST_ALTERNATIVE, "$text-muted")
    )
    if reason:
        parts.append("\n")
        parts.append((clean(reason, 200), "italic"))
    return Content.assemble(*parts)


class StageStepper(Static):
    """Shows where the account is in its lifecycle, and why."""

    def show(self, stage: str | None, reason: str) -> None:
        """Render ``stage`` with its reason."""
        update_if_changed(self, stepper_content(stage, reason))

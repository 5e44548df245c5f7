"""The due queue (d): read for its screen, changed through Saving, read again after each change.

Owned by the app (csm_tui/ui/app.py), whose message handlers call it; it sees the app as
csm_tui.ui.host.CsmHost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from csm_tui.ui.host import CsmHost, thread_worker
from csm_tui.ui.messages import ActionFailed, DueStepsLoaded, ScreenSettled
from csm_tui.ui.threads import cache_db, one_line

if TYPE_CHECKING:
    from csm_tui.ui.messages import StepChangeRequested
    from csm_tui.ui.saving import Saving
    from csm_tui.ui.screens.due import DueScreen


class DueQueue:
    """Opens the due screen and keeps it in step with the cache."""

    def __init__(self, host: CsmHost, saving: Saving) -> None:
        self.host = host
        self.saving = saving

    def open(self) -> None:
        """Push the due screen (it asks for its steps once mounted)."""
        from csm_tui.ui.screens.due import DueScreen

        if self.screens():  # open already (the palette asked again): no second one
            self.host.post_message(ScreenSettled())  # nothing to wait for: the keys go on
            return
        self.host.push_screen(DueScreen(self.host.today))

    def screens(self) -> list[DueScreen]:
        """The due screens on the stack (none, or one)."""
        from csm_tui.ui.screens.due import DueScreen

        return [s for s in self.host.screen_stack if isinstance(s, DueScreen)]

    def load(self) -> None:
        """Read the queue in a worker (DueStepsLoaded follows)."""
        thread_worker(self.host, self._read, "due-queue", exclusive=True)

    def _read(self) -> None:
        from csm_tui.store.due import due_steps

        host = self.host
        try:
            with cache_db(host.opening.cache_path) as db:
                steps = due_steps(db, host.today)
        except Exception as exc:  # one line for the user, never a hung screen
            host.post_message(ActionFailed(f"Cannot read the due queue: {one_line(exc)}"))
            return
        host.post_message(DueStepsLoaded(steps))

    def loaded(self, message: DueStepsLoaded) -> None:
        """Show the steps on the due screen, if it is still open."""
        for screen in self.screens():
            screen.show_steps(message.steps)

    def change(self, message: StepChangeRequested) -> None:
        """Write the change (one outbox item); ``refresh`` follows its ActionDone."""
        self.saving.change_step(
            message.account_id,
            message.step_id,
            done=message.done,
            due=message.due,
            title=message.title,
        )

    def refresh(self) -> None:
        """Read the queue again when its screen is open (a change, an undo, a sync)."""
        if self.screens():
            self.load()

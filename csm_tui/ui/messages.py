"""The messages of the app: what workers, screens and the command palette post to it.

Messages go up, methods go down: a worker never touches a widget and a screen never calls the
app; each posts one of these, and the app's handlers (csm_tui/ui/app.py, which routes them to
its parts) are the only code that changes what another screen shows.

Plain classes rather than dataclasses: each dataclass cost the app's start-up ~0.25 ms (its
methods are generated and compiled at import), and there are some twenty of them.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Literal

from textual.message import Message

if TYPE_CHECKING:
    from csm_tui.domain.score_change import ScoreChange
    from csm_tui.store.detail import AccountDetail
    from csm_tui.store.last_look import LastLook
    from csm_tui.store.views import AttentionItem, StatusInfo
    from csm_tui.sync.progress import SyncReport

# -- from the workers -----------------------------------------------------------------------


class RowsLoaded(Message):
    """A fresh attention list (the answer to request ``generation``).

    ``name_width``: the name column these rows want (measured in the worker); ``first_page``:
    only the top of the list, the rest follows in another message."""

    def __init__(
        self,
        rows: list[AttentionItem],
        generation: int,
        total_accounts: int,
        name_width: int | None = None,
        first_page: bool = False,
    ) -> None:
        super().__init__()
        self.rows = rows
        self.generation = generation
        self.total_accounts = total_accounts
        self.name_width = name_width
        self.first_page = first_page


class DetailLoaded(Message):
    """One account's detail, for the pane or the account screen."""

    def __init__(self, account_id: str, detail: AccountDetail | None) -> None:
        super().__init__()
        self.account_id = account_id
        self.detail = detail


class MovesLoaded(Message):
    """Why ``account_id``'s health moved since its weekly score ``weeks`` back (None: no score
    to compare with)."""

    def __init__(self, account_id: str, weeks: int, change: ScoreChange | None) -> None:
        super().__init__()
        self.account_id = account_id
        self.weeks = weeks
        self.change = change


class StatusLoaded(Message):
    """Sync and outbox numbers for the status line."""

    def __init__(self, info: StatusInfo) -> None:
        super().__init__()
        self.info = info


class ActionDone(Message):
    """A local action was written and the account rescored.

    ``row``, ``detail`` and ``status`` are read in the worker right after the rescore, so the UI
    shows them without another read; ``fresh`` is True when ``row`` and ``detail`` are the
    account's state now. ``reload``: the whole list is to be read again (the marks cleared)."""

    def __init__(
        self,
        account_id: str | None,
        text: str,
        row: AttentionItem | None = None,
        reload: bool = False,
        fresh: bool = False,
        detail: AccountDetail | None = None,
        status: StatusInfo | None = None,
    ) -> None:
        super().__init__()
        self.account_id = account_id
        self.text = text
        self.row = row
        self.reload = reload
        self.fresh = fresh
        self.detail = detail
        self.status = status


class ActionFailed(Message):
    """A local action (or a read) failed; ``text`` is one line for the user."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class SyncProgressed(Message):
    """The sync moved on (stage, object, done, total)."""

    def __init__(
        self, stage: str, object: str, done: int, total: int | None, message: str = ""
    ) -> None:
        super().__init__()
        self.stage = stage
        self.object = object
        self.done = done
        self.total = total
        self.message = message

    def can_replace(self, message: Message) -> bool:
        # A newer progress report makes an older one that is still queued worthless.
        return isinstance(message, SyncProgressed)


class SyncFinished(Message):
    """The sync ended: ``error`` is None on success; ``offline`` when the network was out of reach;
    ``busy`` when another sync held the workspace (not a failure)."""

    def __init__(
        self, report: SyncReport | None, error: str | None, offline: bool, busy: bool = False
    ) -> None:
        super().__init__()
        self.report = report
        self.error = error
        self.offline = offline
        self.busy = busy


class ContactsLoaded(Message):
    """The contacts the log-touch form offers, read for ``account_id``: (contact id, label)."""

    def __init__(self, account_id: str, account_name: str, contacts: list[tuple[str, str]]) -> None:
        super().__init__()
        self.account_id = account_id
        self.account_name = account_name
        self.contacts = contacts


class DueStepsLoaded(Message):
    """The due queue, read: each step a dict of csm_tui.store.due.DUE_COLUMNS."""

    def __init__(self, steps: list[dict[str, object]]) -> None:
        super().__init__()
        self.steps = steps


class CrmLinkLoaded(Message):
    """The account's HubSpot address (None: the portal is not known yet, ``why`` says so)."""

    def __init__(self, account_id: str, url: str | None, why: str = "") -> None:
        super().__init__()
        self.account_id = account_id
        self.url = url
        self.why = why


class ExportWritten(Message):
    """A CSV export was written to ``path`` (``rows`` rows)."""

    def __init__(self, path: str, rows: int) -> None:
        super().__init__()
        self.path = path
        self.rows = rows


class SettingsValidated(Message):
    """The settings the app opened without are validated (see csm_tui/opening.py)."""


class ScoringChangePreviewed(Message):
    """The scoring settings differ from the last rescore's: ``text`` says what they would change
    (csm_tui/store/score_diff.py), shown once."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class SettingsFailed(Message):
    """The settings could not be validated: the app leaves with ``exit_code`` and ``text``."""

    def __init__(self, exit_code: int, text: str) -> None:
        super().__init__()
        self.exit_code = exit_code
        self.text = text


class SinceLastLookLoaded(Message):
    """What changed since the app was last opened and is not shown yet (``look.changes``)."""

    def __init__(self, look: LastLook) -> None:
        super().__init__()
        self.look = look


# -- from the screens ----------------------------------------------------------------------


class OpensScreen(Message):
    """A request that opens a screen: the app holds the keys typed behind it until the screen
    has settled (csm_tui/ui/type_ahead.py). Post it to the app itself (``self.app.post_message``)
    from the key's action, so that the holding starts before the next key is taken."""


class ScreenSettled(Message):
    """A screen is up and its first field has focus: the keys held for it go to it now."""


class MainScreenReady(Message):
    """The main screen is composed, its first page of rows on it: read the rest."""


class AccountHighlighted(Message):
    """The list's cursor is on ``account_id`` (None: the list is empty): its detail is
    wanted once the cursor rests."""

    def __init__(self, account_id: str | None) -> None:
        super().__init__()
        self.account_id = account_id


class DetailRequested(Message):
    """Read ``account_id``'s detail now (the account screen opened)."""

    def __init__(self, account_id: str) -> None:
        super().__init__()
        self.account_id = account_id


class MovesRequested(Message):
    """Read why ``account_id``'s health moved (the detail shows it, or its score changed)."""

    def __init__(self, account_id: str) -> None:
        super().__init__()
        self.account_id = account_id


class MoveSpanRequested(Message):
    """Explain the health's move over the next span (1, 4 or 13 weeks back)."""


class OpenAccountRequested(Message):
    """Open the account screen on ``account_id``."""

    def __init__(self, account_id: str) -> None:
        super().__init__()
        self.account_id = account_id


class LogTouchRequested(OpensScreen):
    """Open the log-touch form for one account."""

    def __init__(self, account_id: str, account_name: str) -> None:
        super().__init__()
        self.account_id = account_id
        self.account_name = account_name


class NextStepRequested(OpensScreen):
    """Open the next-step form for one account."""

    def __init__(self, account_id: str, account_name: str) -> None:
        super().__init__()
        self.account_id = account_id
        self.account_name = account_name


class SnoozeRequested(OpensScreen):
    """Open the snooze form for one account (``renewal_date``: its renewal, ISO, if known: a
    snooze past it is questioned)."""

    def __init__(self, account_id: str, account_name: str, renewal_date: str | None = None) -> None:
        super().__init__()
        self.account_id = account_id
        self.account_name = account_name
        self.renewal_date = renewal_date


class UnsnoozeRequested(Message):
    """End one account's snooze now."""

    def __init__(self, account_id: str, account_name: str) -> None:
        super().__init__()
        self.account_id = account_id
        self.account_name = account_name


class EnrollRequested(OpensScreen):
    """Open the enroll form for these accounts."""

    def __init__(self, account_ids: list[str]) -> None:
        super().__init__()
        self.account_ids = account_ids


class DueQueueRequested(OpensScreen):
    """Open the due queue: every next step due today or overdue, across the book."""


class DueStepsRequested(Message):
    """Read the due queue (again) for the due screen."""


class StepChangeRequested(Message):
    """Complete, reschedule or retitle one next step (exactly one outbox item: step_change)."""

    def __init__(
        self,
        step_id: str,
        account_id: str,
        *,
        done: bool | None = None,
        due: date | None = None,
        title: str | None = None,
    ) -> None:
        super().__init__()
        self.step_id = step_id
        self.account_id = account_id
        self.done = done
        self.due = due
        self.title = title


class OpenInCrmRequested(Message):
    """Open ``account_id`` in the CRM (HubSpot): browser, clipboard and a notice."""

    def __init__(self, account_id: str) -> None:
        super().__init__()
        self.account_id = account_id


class ExportRequested(Message):
    """Write ``rows`` (their ``columns``, under ``headers``) as a CSV file named after ``view``."""

    def __init__(
        self,
        view: str,
        headers: tuple[str, ...],
        columns: tuple[str, ...],
        rows: list[dict[str, object]],
    ) -> None:
        super().__init__()
        self.view = view
        self.headers = headers
        self.columns = columns
        self.rows = rows


class SegmentChoiceRequested(OpensScreen):
    """Open the segment chooser."""


class ViewRequested(Message):
    """Show ``segment`` (None: every account), filtered by ``text`` (None: unfiltered)."""

    def __init__(self, segment: str | None, text: str | None) -> None:
        super().__init__()
        self.segment = segment
        self.text = text


class ThemeRequested(Message):
    """Switch to the theme ``name``."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name


# -- from the command palette: actions of the app itself, and actions of the screen they act on
# (the app routes those down: to the list, to the account screen on top, or to the main screen).

AppAction = Literal["help", "sync", "undo", "next_theme", "portfolio", "quit"]
ScreenAction = Literal[
    "log_touch",
    "next_step",
    "snooze",
    "enroll",
    "open_account",
    "toggle_mark",
    "mark_all",
    "clear_marks",
    "filter",
    "segment",
    "due_queue",
    "open_in_crm",
    "export",
    "snoozed_view",
    "unsnooze",
    "cycle_sort",
]


class AppActionRequested(Message):
    """Run one of the app's own actions (chosen in the command palette)."""

    def __init__(self, action: AppAction) -> None:
        super().__init__()
        self.action = action


class ScreenActionRequested(Message):
    """Run a screen's action (chosen in the command palette)."""

    def __init__(self, action: ScreenAction) -> None:
        super().__init__()
        self.action = action

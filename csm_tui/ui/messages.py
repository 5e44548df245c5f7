"""Messages that workers post to the app; the app's handlers own every widget update."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from csm_tui.store.detail import AccountDetail
    from csm_tui.store.views import AttentionItem, StatusInfo


@dataclass
class RowsLoaded(Message):
    """A fresh attention list (the answer to request ``generation``)."""

    rows: list[AttentionItem]
    generation: int
    total_accounts: int
    name_width: int | None = None  # the name column these rows want (measured in the worker)
    first_page: bool = False  # only the top of the list: the rest follows in another message


@dataclass
class DetailLoaded(Message):
    """One account's detail, for the pane or the account screen."""

    account_id: str
    detail: AccountDetail | None


@dataclass
class StatusLoaded(Message):
    """Sync and outbox numbers for the status line."""

    info: StatusInfo


@dataclass
class ActionDone(Message):
    """A local action was written and the account rescored."""

    account_id: str | None
    text: str
    row: AttentionItem | None = None
    reload: bool = False
    # Read in the worker right after the rescore, so the UI shows them without another read.
    fresh: bool = False  # True when ``row`` and ``detail`` are the account's state now
    detail: AccountDetail | None = None
    status: StatusInfo | None = None  # the status line's numbers after the action


@dataclass
class ActionFailed(Message):
    """A local action could not be written; ``text`` is one line for the user."""

    text: str


@dataclass
class SyncProgressed(Message):
    """The sync moved on (stage, object, done, total)."""

    stage: str
    object: str
    done: int
    total: int | None
    message: str = ""

    def can_replace(self, message: Message) -> bool:
        # A newer progress report makes an older one that is still queued worthless.
        return isinstance(message, SyncProgressed)


@dataclass
class SyncFinished(Message):
    """The sync ended: ``error`` is None on success; ``offline`` when the network was out of reach."""

    report: Any
    error: str | None
    offline: bool
    busy: bool = False  # another sync held the workspace: not a failure

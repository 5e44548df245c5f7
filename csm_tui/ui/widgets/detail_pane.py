"""The detail of one account: header, stage stepper, health drivers, usage, timeline, contacts,
tickets and surveys. The side pane shows it compactly; the account screen shows it all."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Static

from csm_tui.ui.messages import MovesRequested
from csm_tui.ui.safe_text import clean, fit
from csm_tui.ui.widgets.content_updates import update_if_changed
from csm_tui.ui.widgets.driver_bars import DriverBars
from csm_tui.ui.widgets.formats import (
    BAND_SYMBOL,
    BAND_WORD,
    days_ago,
    money_full,
    renews_in,
    trend_arrow,
)
from csm_tui.ui.widgets.sparkline import Sparkline
from csm_tui.ui.widgets.stage_stepper import StageStepper
from csm_tui.ui.widgets.why_moved import moves_content

if TYPE_CHECKING:
    from csm_tui.domain.score_change import ScoreChange
    from csm_tui.store.detail import AccountDetail, ContactRow

DRIVER_BAR_CELLS = 38  # name, bar, points and points lost before a driver's reason
COMPACT_ROWS = 4
DEFAULT_MOVE_WEEKS = 4  # the span "Why it moved" shows first (domain.score_change.DEFAULT_SPAN)
FULL_ROWS = 30


def _section(title: str) -> Content:
    return Content.styled(title, "bold $secondary")


def header_content(d: AccountDetail, today: date) -> Content:
    """Name, tier, owner, ARR, renewal."""
    band = d.band or ""
    parts: list[str | tuple[str, str] | Content] = [(clean(d.name, 80) or d.account_id, "bold")]
    if d.opportunity:
        parts.append(("  ★ Opportunity", "bold $opportunity"))
    if d.snoozed_until:
        parts.append((f"  (snoozed until {d.snoozed_until})", "$text-muted"))
    parts.append("\n")
    facts = [
        clean(d.domain, 60) or "no domain",
        f"tier {d.tier or '—'}",
        f"owner {clean(d.owner, 40) or '—'}",
    ]
    parts.append((" · ".join(facts), "$text-muted"))
    parts.append("\n")
    renewal = d.renewal_date or "—"
    parts.append(f"ARR {money_full(d.arr)} · renews {renewal} ({renews_in(d.renewal_date, today)})")
    if d.seats:
        parts.append(f" · {d.seats} seats")
    if d.churned_on:
        parts.append((f" · churned {d.churned_on}", "$band-red"))
    parts.append("\n")
    health = "—" if d.health is None else str(d.health)
    trend = (
        "" if d.trend is None else f" {trend_arrow(d.trend)} {d.trend:+d} in 4 wk".replace("-", "−")
    )
    parts.append(("Health ", "bold"))
    parts.append(
        (
            f"{BAND_SYMBOL.get(band, '·')} {health} {BAND_WORD.get(band, '')}{trend}",
            f"bold $band-{band}" if band in BAND_SYMBOL else "$text-muted",
        )
    )
    if d.reasons:
        parts.append("\n")
        parts.append((" · ".join(clean(r, 60) for r in d.reasons), "$chip"))
    return Content.assemble(*parts)


def timeline_content(d: AccountDetail, today: date, rows: int) -> Content:
    """Open next steps first, then the latest touches."""
    lines: list[Content] = [_section("Next steps")]
    if not d.next_steps:
        lines.append(Content.styled("  none open", "$text-muted"))
    for step in d.next_steps[:rows]:
        due = step.due_date or "no due date"
        lines.append(
            Content.assemble(
                ("  ☐ ", "bold"),
                (f"{due} ", "bold $band-red" if step.overdue else "$text-muted"),
                clean(step.title, 120),
            )
        )
    lines.append(_section("Timeline"))
    if not d.touches:
        lines.append(Content.styled("  no touches yet", "$text-muted"))
    for touch in d.touches[:rows]:
        who = f" with {clean(touch.contact, 40)}" if touch.contact else ""
        mood = {"positive": " +", "negative": " −"}.get(touch.sentiment or "", "")
        lines.append(
            Content.assemble(
                (f"  {touch.occurred_at[:10]} ", "$text-muted"),
                (f"{touch.kind}{who}{mood}", "bold"),
                (" (waiting to push)", "$warning") if touch.waiting else "",
                "\n    ",
                clean(touch.summary, 300),
            )
        )
    return Content("\n").join(lines)


CONTACT_WIDTH = 78  # the people lines' width before the view is laid out (80 columns)


def _fitted(parts: list[tuple[str, str]], width: int) -> Content:
    """Styled pieces on one line, the line cropped to ``width`` cells with an ellipsis."""
    out: list[tuple[str, str]] = []
    room = width
    for text, style in parts:
        if room <= 0:
            break
        size = cell_len(text)
        if size > room:
            out.append((fit(text, room), style))
            break
        out.append((text, style))
        room -= size
    return Content.assemble(*out)


def _phones(c: ContactRow, width: int) -> str:
    """The phones; a narrow view (the side pane) shows one, so last active still fits."""
    phone, mobile = clean(c.phone, 30), clean(c.mobile_phone, 30)
    if phone and mobile and width >= 60:
        return f"tel {phone} · mob {mobile}"
    if phone:
        return f"tel {phone}"
    return f"mob {mobile}" if mobile else "no phone"


def contacts_content(
    d: AccountDetail, today: date, rows: int, width: int = CONTACT_WIDTH
) -> Content:
    """The people, two lines each: name, role and title; phones, last active, email and
    sequence state, each line cropped to ``width`` so nothing wraps at 80 columns."""
    lines: list[Content] = [_section("Contacts")]
    if not d.contacts:
        lines.append(Content.styled("  none", "$text-muted"))
    name_width = max(12, min(24, width // 3))
    for c in d.contacts[:rows]:
        name = fit(clean(c.name, 80) or "(no name)", name_width)
        title = clean(c.title, 80)
        lines.append(
            _fitted(
                [
                    ("  ", ""),
                    (name, "bold"),
                    (" ", ""),
                    (f"{c.role:<8}", "$accent"),
                    (f" {title}" if title else " no title", "" if title else "$text-muted"),
                ],
                width,
            )
        )
        details: list[tuple[str, str]] = [
            ("    ", ""),
            (_phones(c, width), "" if c.phone or c.mobile_phone else "$text-muted"),
            (f" · active {days_ago(c.last_active, today)}", "$text-muted"),
        ]
        if c.email:
            details.append((f" · {clean(c.email, 60)}", "$text-muted"))
        if c.sequence:
            details.append((f" · {clean(c.sequence, 60)}", "$primary"))
        lines.append(_fitted(details, width))
    if len(d.contacts) > rows:
        lines.append(Content.styled(f"  … {len(d.contacts) - rows} more", "$text-muted"))
    return Content("\n").join(lines)


def support_content(d: AccountDetail, today: date, rows: int) -> Content:
    """Open tickets, and the latest NPS and CSAT."""
    lines: list[Content] = [_section("Open tickets")]
    if not d.tickets:
        lines.append(Content.styled("  none", "$text-muted"))
    for t in d.tickets[:rows]:
        lines.append(
            Content.assemble(
                (f"  {t.priority or '—':<7} ", "$band-red" if t.escalated else "$text-muted"),
                clean(t.subject, 100),
                (" (escalated)", "bold $band-red") if t.escalated else "",
                (f" · opened {days_ago(t.created_at, today)}", "$text-muted"),
            )
        )
    if rows >= FULL_ROWS:  # deals only on the account screen: the pane has no room
        lines.append(_section("Deals"))
        if not d.deals:
            lines.append(Content.styled("  none", "$text-muted"))
        for deal in d.deals:
            lines.append(
                Content.assemble(
                    (f"  {deal.close_date or '—':<10} ", "$text-muted"),
                    (f"{deal.kind or '—':<9} ", "bold"),
                    (f"{money_full(deal.amount):>10} ", ""),
                    (f"{clean(deal.stage, 20):<15} ", "$accent"),
                    clean(deal.name, 80),
                )
            )
    lines.append(_section("Surveys"))
    for label, survey in (("NPS", d.nps), ("CSAT", d.csat)):
        if survey is None:
            lines.append(Content.styled(f"  {label} none", "$text-muted"))
            continue
        comment = f' "{clean(survey.comment, 100)}"' if survey.comment else ""
        lines.append(
            Content.assemble(
                (f"  {label} ", "bold"),
                str(survey.score),
                (f" · {days_ago(survey.submitted_at, today)}", "$text-muted"),
                comment,
            )
        )
    return Content("\n").join(lines)


class AccountView(VerticalScroll):
    """Everything about one account; ``full`` shows every row instead of the latest few."""

    def __init__(self, *, full: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.full = full
        self.account_id: str | None = None
        self._shown: tuple[AccountDetail, date] | None = None
        self._parts_hidden = False  # show_message hid the parts an account has
        self._parts_mounted = full
        # "Why it moved": what it shows (account, span, change) and the score it was asked for.
        self._moves: tuple[str, int, ScoreChange | None] | None = None
        self._moves_asked: tuple[object, ...] | None = None
        self._reveal_moves = False  # the span key was pressed: bring the section into view
        self._move_weeks = DEFAULT_MOVE_WEEKS  # the span last asked for or shown

    def compose(self) -> ComposeResult:
        yield Static(Content.styled("Loading…", "$text-muted"), id="detail-header")
        if self.full:
            yield from self._parts()

    def on_mount(self) -> None:
        if not self._parts_mounted:
            # The side pane's parts come one frame after the app's first: that frame is the
            # list's, and styling eight more widgets for it cost ~10 ms of opening the app.
            self.call_after_refresh(self._mount_parts)

    @staticmethod
    def _parts() -> list[Widget]:
        return [
            StageStepper(id="detail-stage"),
            Static(_section("Health drivers"), classes="detail-title"),
            DriverBars(id="detail-drivers"),
            Sparkline(id="detail-usage"),
            Sparkline(id="detail-history"),
            Static(id="detail-moves"),
            Static(id="detail-timeline"),
            Static(id="detail-contacts"),
            Static(id="detail-support"),
        ]

    def _mount_parts(self) -> None:
        self.mount_all(self._parts())
        self._parts_mounted = True
        if self._shown is not None:  # an account arrived before its parts
            self.show(*self._shown)
        elif self._parts_hidden:
            self._show_parts(False)

    def on_resize(self) -> None:
        if self._shown is not None:  # the layout of the drivers depends on the width
            self.show(*self._shown)

    def show_message(self, text: str) -> None:
        """Show a line instead of an account (empty list, account gone)."""
        self.account_id = None
        self._shown = None
        self.query_one("#detail-header", Static).update(Content.styled(text, "$text-muted"))
        self._parts_hidden = True
        if not self._parts_mounted:
            return
        self._show_parts(False)
        for name in ("timeline", "contacts", "support", "moves"):
            self.query_one(f"#detail-{name}", Static).update("")
        self._moves = self._moves_asked = None

    def _show_parts(self, shown: bool) -> None:
        self._parts_hidden = not shown
        for widget in self.query("StageStepper, DriverBars, Sparkline, .detail-title"):
            widget.display = shown

    def _people_width(self) -> int:
        """The cells a contact line may take: the view's width, once it is laid out."""
        width = self.scrollable_content_region.width
        return width if width > 0 else CONTACT_WIDTH

    def show(self, detail: AccountDetail, today: date) -> None:
        """Render ``detail``."""
        self.account_id = detail.account_id
        self._shown = (detail, today)
        if not self._parts_mounted:  # shown whole once they are (_mount_parts)
            update_if_changed(
                self.query_one("#detail-header", Static), header_content(detail, today)
            )
            return
        rows = FULL_ROWS if self.full else COMPACT_ROWS
        if self._parts_hidden:  # a CSS query per account shown costs more than it seems
            self._show_parts(True)
        update_if_changed(self.query_one("#detail-header", Static), header_content(detail, today))
        self.query_one(StageStepper).show(detail.stage, detail.stage_reason)
        # Reasons go on their own indented line when any of them would wrap beside its bar.
        longest = max((len(d.reason) for d in detail.drivers), default=0)
        room = self.scrollable_content_region.width - DRIVER_BAR_CELLS
        self.query_one(DriverBars).show(detail.drivers, 200, reason_below=longest > room)
        usage = [v for _, v in detail.usage]
        last = f"{usage[-1]:,} events last week" if usage else ""
        self.query_one("#detail-usage", Sparkline).show("Usage  ", usage, last, low=0)
        history = [v for _, v in detail.score_history]
        hist = f"{history[0]} → {history[-1]}" if history else ""
        self.query_one("#detail-history", Sparkline).show("Health ", history, hist, low=0, high=100)
        self._ask_moves(detail)
        for name, content in (
            ("timeline", timeline_content(detail, today, rows)),
            ("contacts", contacts_content(detail, today, rows, self._people_width())),
            ("support", support_content(detail, today, rows)),
        ):
            update_if_changed(self.query_one(f"#detail-{name}", Static), content)
        if not self.full:
            self.scroll_home(animate=False)

    # -- why it moved (csm_tui/ui/widgets/why_moved.py) ---------------------------------------

    def _ask_moves(self, detail: AccountDetail) -> None:
        """Ask for why the health moved when this account's score is not the one explained."""
        score = (
            detail.account_id,
            detail.health,
            tuple((d.component, d.points) for d in detail.drivers),
        )
        if score == self._moves_asked:
            self._render_moves()
            return
        self._moves_asked = score
        if self._moves is not None and self._moves[0] != detail.account_id:
            self._moves = None  # another account's: not shown under this one
        self._render_moves(reading=True)
        self.post_message(MovesRequested(detail.account_id))

    def moves_pending(self, weeks: int) -> None:
        """A new span was asked for: say so until its answer comes."""
        if self.account_id is not None and self._parts_mounted:
            self._moves = (self.account_id, weeks, None)
            self._move_weeks = weeks
            self._reveal_moves = True
            self._render_moves(reading=True)

    def show_moves(self, account_id: str, weeks: int, change: ScoreChange | None) -> None:
        """Show why ``account_id``'s health moved over ``weeks`` (if it is the one shown)."""
        if account_id != self.account_id:
            return
        self._moves = (account_id, weeks, change)
        self._move_weeks = weeks
        if self._parts_mounted:
            self._render_moves()
            if self._reveal_moves:  # in the side pane it sits below the fold
                self._reveal_moves = False
                section = self.query_one("#detail-moves", Static)
                self.call_after_refresh(section.scroll_visible, animate=False, top=True)

    def _render_moves(self, *, reading: bool = False) -> None:
        rows = FULL_ROWS if self.full else COMPACT_ROWS
        weeks = self._moves[1] if self._moves is not None else self._move_weeks
        change = self._moves[2] if self._moves is not None else None
        # A column spare: the scrollbar this section may bring narrows the pane after it is drawn.
        width = (self.scrollable_content_region.width or 81) - 1
        update_if_changed(
            self.query_one("#detail-moves", Static),
            moves_content(change, weeks, rows, width, reading=reading or self._moves is None),
        )

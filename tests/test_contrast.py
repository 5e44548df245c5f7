"""Every shipped theme is readable: each piece of text the app draws meets WCAG AA (4.5:1)
against the background it is actually drawn on.

The colours are the rendered ones: the app runs headless on the hand-made cache, and the check
reads the screen's composited strips (after Textual has blended every translucent colour), so
a rule that looks fine in a .tcss file but renders badly still fails here. Each run of text is
checked twice: in true colour, and as a 256-colour terminal gets it (tmux by default, macOS
Terminal), where Rich rounds every colour to the xterm palette. Only the screen on top is read:
the one dimmed behind a modal is inactive.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import pytest
import sqlite_utils
from rich.cells import cell_len
from rich.color import Color as RichColor
from rich.color import ColorSystem
from rich.style import Style
from support.apps import ACCOUNTS, fill_cache, make_app, settle
from textual.app import App, ComposeResult
from textual.color import Color
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Checkbox, RadioButton, Select, Static, TextArea

from csm_tui.config import Settings
from csm_tui.domain.digest import KINDS, Change
from csm_tui.paths import config_path
from csm_tui.store import actions
from csm_tui.ui.screens.portfolio import Palette
from csm_tui.ui.screens.since import SinceScreen
from csm_tui.ui.screens.welcome import WelcomeScreen
from csm_tui.ui.themes import user_themes_dir
from csm_tui.ui.theming import SHIPPED

AA = 4.5


def _channel(value: int) -> float:
    """sRGB channel (0-255) to linear light, as WCAG 2.x defines it."""
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(rgb: tuple[int, int, int]) -> float:
    """WCAG relative luminance of an sRGB colour."""
    r, g, b = (_channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg: tuple[int, int, int], bg: tuple[int, int, int]) -> float:
    """WCAG contrast ratio, 1 to 21."""
    high, low = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_contrast_formula_matches_wcag() -> None:
    assert contrast((0, 0, 0), (255, 255, 255)) == pytest.approx(21.0)
    assert contrast((255, 255, 255), (255, 255, 255)) == pytest.approx(1.0)
    # #767676 on white is the classic just-passing grey (4.54:1); #777777 just fails (4.48:1).
    assert contrast((0x76,) * 3, (255, 255, 255)) == pytest.approx(4.54, abs=0.01)
    assert contrast((0x77,) * 3, (255, 255, 255)) < AA


# Box drawing, block elements and shades: borders, scrollbars, bars and sparklines. They are
# graphics, not text (WCAG 1.4.3 is about text), and a border in the panel colour is meant to
# be quiet. Colour emoji (the palette's 🔎) are drawn in their own colours, whatever the style.
def _is_graphic(char: str) -> bool:
    return "\u2500" <= char <= "\u259f" or "\U0001f300" <= char <= "\U0001faff" or char.isspace()


@dataclass(frozen=True)
class Run:
    """One run of text on the screen and the colours it was drawn in."""

    where: str
    text: str
    fg: tuple[int, int, int]
    bg: tuple[int, int, int]

    @property
    def ratio(self) -> float:
        return contrast(self.fg, self.bg)

    @property
    def colours(self) -> str:
        return "#{:02x}{:02x}{:02x} on #{:02x}{:02x}{:02x}".format(*self.fg, *self.bg)

    def __str__(self) -> str:
        return f"{self.where}: {self.text.strip()[:30]!r} {self.colours} = {self.ratio:.2f}:1"


def _rgb(color: RichColor | None) -> tuple[int, int, int] | None:
    if color is None or color.is_default:
        return None
    t = color.get_truecolor()
    return (t.red, t.green, t.blue)


def _blend(fg: tuple[int, int, int], bg: tuple[int, int, int], f: float) -> tuple[int, int, int]:
    r, g, b = (round(b_ + (a - b_) * f) for a, b_ in zip(fg, bg, strict=True))
    return (r, g, b)


def _off_toggle(widget: Widget, text: str) -> bool:
    """The dot of a radio button or checkbox that is off: its absence is the state, so it is
    drawn to vanish into the button (only the dot of one that is on is there to be read)."""
    toggle = isinstance(widget, RadioButton | Checkbox)
    return toggle and not widget.value and text == RadioButton.BUTTON_INNER


def text_runs(app: App[object], scene: str) -> Iterator[Run]:
    """Every run of text on the screen as the terminal gets it: characters and colours."""
    screen = app.screen
    for y, strip in enumerate(screen._compositor.render_strips()):
        x = 0
        for text, style, control in strip:
            at, x = x, x + cell_len(text)
            if control or all(_is_graphic(ch) for ch in text):
                continue
            widget, _ = screen.get_widget_at(at, y)
            # Text on the screen itself is the screen behind a modal, dimmed: it is inactive.
            if widget is screen or _off_toggle(widget, text.strip()):
                continue
            where = f"{scene}, {type(widget).__name__} at line {y}"
            style = style or Style()
            fg, bg = _rgb(style.color), _rgb(style.bgcolor)
            assert fg is not None and bg is not None, (
                f"{where}: {text.strip()!r} is left to the terminal's own colours"
            )
            if style.reverse:
                fg, bg = bg, fg
            if style.dim:  # terminals draw dim text at about half its intensity
                fg = _blend(fg, bg, 0.5)
            yield Run(where, text, fg, bg)


def eight_bit(run: Run) -> Run:
    """The run as a 256-colour terminal shows it (Rich's rounding to the xterm palette)."""

    def down(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
        t = RichColor.from_rgb(*rgb).downgrade(ColorSystem.EIGHT_BIT).get_truecolor()
        return (t.red, t.green, t.blue)

    return Run(run.where, run.text, down(run.fg), down(run.bg))


def below_aa(runs: list[Run]) -> list[str]:
    """The runs below 4.5:1, in true colour or in 256 colours."""
    low: list[str] = []
    for run in runs:
        if run.ratio < AA:
            low.append(str(run))
        if (down := eight_bit(run)).ratio < AA:
            low.append(f"{down} in 256 colours (from {run.colours})")
    return low


class Grey(App[None]):
    """One line of mid grey on white (#777777, 4.48:1) and one of black on white."""

    CSS = "Screen { background: #ffffff; } #grey { color: #777777; } #black { color: #000000; }"

    def compose(self) -> ComposeResult:
        yield Static("grey on white", id="grey")
        yield Static("black on white", id="black")


async def test_the_check_reads_the_colours_a_screen_is_drawn_in() -> None:
    async with Grey().run_test(size=(40, 4)) as pilot:
        runs = list(text_runs(pilot.app, "grey"))
    assert [run.text.strip() for run in runs] == ["grey on white", "black on white"]
    assert [run.colours for run in runs] == ["#777777 on #ffffff", "#000000 on #ffffff"]
    # In 256 colours #777777 becomes #767676, which just passes (4.54:1).
    assert below_aa(runs) == [str(runs[0])]


async def quiet(pilot: Pilot[object]) -> None:
    """Let the keys pressed be handled and any worker they started finish (settle, without
    its rounds of waiting when no worker runs)."""
    await pilot.pause()
    for _ in range(3):
        if not pilot.app.workers:
            return
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


# What a user meets after the list, in order: the keys that open each scene, the screen it
# shows, a text it shows (spaces aside), and the keys that leave it.
SCENES: list[tuple[str, tuple[str, ...], str, str, tuple[str, ...]]] = [
    # The filter box has the focus: the list's cursor as drawn when the list is not focused.
    ("the filter box", ("slash",), "MainScreen", "Filter:words", ("escape",)),
    # A filter matching a note: the matched words picked out under the view bar and in the Why.
    ("the filter's match", ("slash", *"renewal"), "MainScreen", "note:", ("escape",)),
    ("the list sorted", ("S",), "MainScreen", "SortARR", ("S", "S", "S", "S")),
    ("the snoozed view", ("Z",), "MainScreen", "snoozedto", ("Z",)),
    ("the due queue", ("d",), "DueScreen", "Duequeue", ("escape",)),
    ("the account screen", ("enter",), "AccountScreen", "Healthdrivers", ("escape",)),
    ("the log-touch form", ("l",), "LogTouchScreen", "Logatouch", ()),
    ("the log-touch form with an error", ("ctrl+s",), "LogTouchScreen", "Summary:", ("escape",)),
    ("the next-step form", ("n",), "NextStepScreen", "Nextstep", ("escape",)),
    ("the snooze form", ("z",), "SnoozeScreen", "untilTue24Nov", ("escape",)),
    ("the segment chooser", ("f",), "SegmentScreen", "Expansion-ready", ("escape",)),
    ("the enroll sequences", ("s",), "EnrollScreen", "Renewalnurture·4steps", ()),
    ("the enroll preview", ("enter",), "EnrollScreen", "contact", ("escape", "escape")),
    ("the portfolio", ("p",), "PortfolioScreen", "Portfolio", ("escape",)),
    ("the help", ("question_mark",), "HelpScreen", "Keys", ("escape",)),
    ("the command palette", ("ctrl+p",), "CommandPalette", "Searchforcommands", ("escape",)),
]  # fmt: skip


@pytest.mark.parametrize("theme", SHIPPED)
async def test_every_text_meets_aa_in_each_shipped_theme(
    settings: Settings, db: sqlite_utils.Database, theme: str
) -> None:
    fill_cache(db)
    actions.snooze(db, account_id="104", until=date(2026, 12, 15), reason="on holiday")
    db["sequences"].insert_all(
        [
            {"id": "s1", "name": "Renewal nurture", "steps": 4},
            {"id": "s2", "name": "Webinar invite", "steps": 2},
        ]
    )
    app = make_app(settings)
    failures: list[str] = []

    def check(scene: str, screen: str, shows: str) -> None:
        assert type(app.screen).__name__ == screen, f"{scene}: {app.screen} is on screen"
        runs = list(text_runs(app, scene))
        text = "".join(run.text for run in runs).replace(" ", "")
        assert shows in text, f"{scene}: {shows!r} is not on screen: {text}"
        failures.extend(below_aa(runs))

    async with app.run_test(size=(120, 40)) as pilot:
        app.theme = theme
        await quiet(pilot)
        # The cursor on each row in turn (each band, trend and chip under it), row 2 marked
        # (under the cursor once); then every row marked. (Set directly: keys cost time, and
        # the keys themselves are tested elsewhere.)
        attention = app.main.attention
        attention.marked = {attention.rows[1].account_id}
        attention.refresh()
        for row in range(len(attention.rows)):
            attention.cursor = row
            await quiet(pilot)
            check(f"the list, the cursor on row {row + 1}", "MainScreen", "#AccountHealth")
        attention.cursor = 0
        attention.action_mark_all()
        await quiet(pilot)
        check("the list, every row marked", "MainScreen", "✓")
        attention.clear_marks()
        for scene, keys, screen, shows, leave in SCENES:
            await pilot.press(*keys)
            await quiet(pilot)
            check(scene, screen, shows)
            await pilot.press(*leave)  # the next scene's keys wait their turn
        # Something typed in a form, then escape: the question whether to discard it.
        await pilot.press("l")
        await quiet(pilot)
        app.screen.query_one("#summary", TextArea).text = "Call about the renewal"
        await pilot.press("escape")
        await quiet(pilot)
        check("the discard question", "ConfirmScreen", "Discardthistouch")
        await pilot.press("y")
        # A form's drop-down open: the contact chooser of the log-touch form.
        await pilot.press("l")
        await quiet(pilot)
        app.screen.query_one("#contact", Select).focus()
        await pilot.press("enter")
        await quiet(pilot)
        check("the contact chooser open", "LogTouchScreen", "JaneDoe")
        await pilot.press("escape", "escape")
        # Since you last looked, with a change of each kind.
        changes = [Change(kind, "101", "Acme Analytics", f"a {kind} change") for kind in KINDS]
        app.push_screen(SinceScreen(changes, date(2026, 11, 20)))
        await quiet(pilot)
        check("since you last looked", "SinceScreen", "Sinceyoulastlooked")
        await pilot.press("escape")
        # The first-run welcome, as the app shows it when there is no cache yet.
        app.push_screen(WelcomeScreen(settings.config_file, settings.data_dir))
        await quiet(pilot)
        check("the welcome", "WelcomeScreen", "Welcome")
    assert not failures, f"{len(failures)} runs of text below {AA}:1 in {theme}:\n" + "\n".join(
        dict.fromkeys(failures)
    )


async def test_notifications_meet_aa_in_each_shipped_theme(
    settings: Settings, db: sqlite_utils.Database
) -> None:
    fill_cache(db)
    app = make_app(settings)
    failures: list[str] = []
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        for theme in SHIPPED:
            app.theme = theme
            for severity in ("information", "warning", "error"):
                app.notify(f"{theme}: a line for the user", title=severity, severity=severity)
            await settle(pilot)
            runs = [run for run in text_runs(app, theme) if "Toast" in run.where]
            shown = "".join(run.text for run in runs).replace(" ", "")
            assert shown.count(f"{theme}:alinefortheuser") == 3, shown
            failures += below_aa(runs)
            app.clear_notifications()
    assert not failures, "\n".join(dict.fromkeys(failures))


# A user's light theme that sets only Textual's colours: muted text is Textual's translucent
# "auto 60%" and the unfocused cursor its "primary at 30%".
PAPER = """
name = "paper"
dark = false
[colors]
primary = "#1F5FA8"
foreground = "#1F2328"
background = "#FAFAF7"
surface = "#F0F1EC"
panel = "#E3E6E0"
"""


async def test_the_list_blends_translucent_theme_colours_as_textual_does(
    settings: Settings, db: sqlite_utils.Database
) -> None:
    fill_cache(db)
    themes = user_themes_dir(config_path())
    themes.mkdir(parents=True)
    (themes / "paper.toml").write_text(PAPER, encoding="utf-8")
    app = make_app(settings)
    async with app.run_test(size=(120, 40)) as pilot:
        app.theme = "paper"
        await pilot.press("slash")  # the filter box takes the focus from the list
        await settle(pilot)
        runs = [r for r in text_runs(app, "paper") if "AttentionList" in r.where]
    # The header and the ranks, in muted text, were white on this light theme (1.05:1).
    header, ranks = runs[0], [r for r in runs if r.text.strip().isdigit()]
    assert header.text.strip().startswith("#   Account")
    assert len(ranks) == len(ACCOUNTS)
    assert [str(r) for r in [header, *ranks] if r.ratio < AA] == []
    # The cursor row (row 1, the list unfocused) is primary at 30% over the background, not
    # the full primary it was drawn in.
    behind = Color.parse("#FAFAF7") + Color.parse("#1F5FA8").with_alpha(0.3)
    assert ranks[0].bg == (behind.r, behind.g, behind.b)
    assert all(rank.bg == (0xFA, 0xFA, 0xF7) for rank in ranks[1:])


def test_the_portfolio_reads_an_auto_muted_colour_as_textual_does() -> None:
    """A theme without its own muted colour has Textual's "auto 60%": 60% of the background's
    contrast text over the background (read as a plain colour it fell back to grey, 3.8:1 on a
    light background)."""
    palette = Palette.from_variables({"background": "#FAFAF7", "text-muted": "auto 60%"})
    muted = palette.muted.color
    assert muted is not None
    expected = Color.parse("#FAFAF7") + Color(0, 0, 0, 0.6)
    assert muted.triplet == (expected.r, expected.g, expected.b)
    assert contrast(muted.triplet, (0xFA, 0xFA, 0xF7)) >= AA

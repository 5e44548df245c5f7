"""The portfolio screen: the book's retention, churn, surveys and health, whether the health score
predicted who left (`csm-tui score-check`), and the cohort heatmap.

The report (`csm_tui.store.portfolio.portfolio_report`) and the score check
(`csm_tui.store.score_check.check_cache`) are computed in thread workers with their own
connections; 1 / 2 / 3 switch the period, c switches the heatmap between logos and revenue.
Heatmap colours come from the theme's band variables, so every theme (and high contrast) applies.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.color import Color
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from csm_tui.config import Settings
from csm_tui.domain.cohorts import CohortMatrix
from csm_tui.errors import CsmError
from csm_tui.store.db import open_cache
from csm_tui.store.portfolio import PortfolioReport, portfolio_report
from csm_tui.store.score_check import CheckReport, check_cache
from csm_tui.ui.widgets.formats import BAND_SYMBOL, money

PERIODS: tuple[tuple[str, str], ...] = (
    ("90d", "Last 90 days"),
    ("quarter", "Last full quarter"),
    ("year", "Last 365 days"),
)
BAND_TITLES = {"green": "healthy", "yellow": "watch", "red": "at risk"}
NA = "n/a"
# Heatmap colour stops: a share at or below LOW is fully red, MID yellow, 100% green.
LOW, MID = 0.5, 0.8


def pct(value: float | None) -> str:
    """A ratio as a percentage (one decimal), or n/a."""
    return NA if value is None else f"{value * 100:.1f}%"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


@dataclass(frozen=True)
class Palette:
    """The theme colours the screen paints with (resolved from the app's theme variables)."""

    green: Color
    yellow: Color
    red: Color
    muted: Style
    label: Style

    @classmethod
    def from_variables(cls, variables: dict[str, str]) -> Palette:
        """Colours from a theme's variables (band-green, ..., text-muted), with safe fallbacks."""

        def color(name: str, fallback: str) -> Color:
            try:
                return Color.parse(variables.get(name, fallback))
            except Exception:  # an odd theme value must not break the screen
                return Color.parse(fallback)

        # Textual's $text-muted is "auto 60%": the background's contrast text at 60%, blended
        # over the background (a parse of the spec alone gave grey, 3.8:1 on csm-light).
        background = color("background", "#000000")
        spec = variables.get("text-muted", "auto 60%").split()
        if spec and spec[0] == "auto":
            alpha = float(spec[1].rstrip("%")) / 100 if len(spec) > 1 else 1.0
            muted = background + background.get_contrast_text(alpha)
        else:
            muted = background + color("text-muted", "#808080")
        return cls(
            green=color("band-green", "#57AB5A"),
            yellow=color("band-yellow", "#D4A72C"),
            red=color("band-red", "#E5534B"),
            muted=Style(color=muted.rich_color),
            label=Style(bold=True),
        )

    def band(self, band: str) -> Style:
        """The foreground style of a health band."""
        found = {"green": self.green, "yellow": self.yellow, "red": self.red}.get(band, self.red)
        return Style(color=found.rich_color)

    def heat(self, share: float) -> Style:
        """The cell style of a retention share: red (low) through yellow to green (kept)."""
        if share <= LOW:
            background = self.red
        elif share <= MID:
            background = self.red.blend(self.yellow, (share - LOW) / (MID - LOW))
        else:
            background = self.yellow.blend(self.green, min(1.0, (share - MID) / (1 - MID)))
        foreground = background.get_contrast_text(1.0)
        return Style(color=foreground.rich_color, bgcolor=background.rich_color)


def metrics_table(report: PortfolioReport, palette: Palette) -> Table:
    """Retention, churn, surveys and health as label / value / detail rows."""
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True)
    table.add_column(justify="right", no_wrap=True)
    table.add_column(overflow="fold")
    muted = palette.muted

    def row(label: str, value: str, detail: Text | str = "") -> None:
        shown = detail if isinstance(detail, Text) else Text(detail, style=muted)
        table.add_row(Text(label, style=palette.label), Text(value), shown)

    row("NRR", pct(report.nrr), f"start {money(report.starting_arr)}")
    row(
        "GRR",
        pct(report.grr),
        f"+{money(report.expansion_arr)} exp · −{money(report.contraction_arr)} contr · "
        f"−{money(report.churned_arr)} churned",
    )
    row(
        "Logo churn",
        pct(report.logo_churn),
        f"{report.accounts_lost:,} of {_plural(report.accounts_at_start, 'account')}",
    )
    row("Revenue churn", pct(report.revenue_churn))
    row(
        "NPS",
        NA if report.nps is None else f"{report.nps:+.0f}",
        _plural(report.nps_responses, "answer"),
    )
    row("CSAT", pct(report.csat), _plural(report.csat_responses, "answer"))
    row(
        "Avg health",
        NA if report.avg_health is None else f"{report.avg_health:.0f}",
        _plural(report.scored_accounts, "scored customer"),
    )
    bands = Text()
    for n, (band, share) in enumerate(report.bands.items()):
        if n:
            bands.append("  ")
        bands.append(f"{BAND_SYMBOL.get(band, '?')} ", style=palette.band(band))
        whole = NA if share is None else f"{share * 100:.0f}%"
        bands.append(f"{BAND_TITLES.get(band, band)} {whole}")
        bands.append(f" ({report.band_counts.get(band, 0):,})", style=muted)
    table.add_row(Text("Bands", style=palette.label), Text(""), bands)
    row(
        "ARR at risk",
        money(report.arr_at_risk) if report.arr_at_risk is not None else NA,
        f"{_plural(report.arr_at_risk_accounts, 'red account')} renewing within 90 days",
    )
    return table


STRONGEST = 3  # components named in the check's panel


def _auc_text(auc: float | None, low: float | None, high: float | None) -> str:
    if auc is None:
        return NA
    return (
        f"{auc:.2f} [{NA if low is None else f'{low:.2f}'}–{NA if high is None else f'{high:.2f}'}]"
    )


def check_panel(report: CheckReport, palette: Palette) -> Group:
    """The score check's headline: AUC with its interval, counts, leave rates by band, the
    components that carry the most signal, and the verdict in words."""
    check = report.check
    overall = check.overall
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    muted, label = palette.muted, palette.label
    outcomes = overall.leavers + overall.stayers
    title = Text.assemble(("Does the score predict?", "bold"), ("  ", muted))
    title.append(_plural(outcomes, "outcome"), style=muted)
    if report.since is not None:
        title.append(f" since {report.since:%b %Y}", style=muted)
    title.append(f" · health {report.horizon} d before", style=muted)
    if not outcomes:  # nothing to show but that
        return Group(title, Text(check.verdict(), style=Style(bold=True)))
    auc = Text(_auc_text(overall.auc, overall.low, overall.high))
    auc.append(f"  {overall.leavers:,} left · {overall.stayers:,} stayed", style=muted)
    table.add_row(Text("ROC AUC", style=label), auc)
    bands = Text()
    for b in check.bands:
        if bands:
            bands.append("  ")
        bands.append(f"{BAND_SYMBOL.get(b.band, '?')} ", style=palette.band(b.band))
        rate = NA if b.rate is None else f"{b.rate * 100:.0f}%"
        bands.append(f"{b.band} {rate}")
        bands.append(f" ({b.leavers}/{b.accounts})", style=muted)
    table.add_row(Text("Left by band", style=label), bands)
    strongest = Text()
    for c in check.components[:STRONGEST]:
        if strongest:
            strongest.append(" · ", style=muted)
        auc_of = c.separation.auc
        strongest.append(f"{c.component} {NA if auc_of is None else f'{auc_of:.2f}'}")
    table.add_row(Text("Strongest", style=label), strongest or Text(NA, style=muted))
    verdict_style = palette.muted if check.enough else Style(bold=True)
    table.add_row(Text(""), Text(check.verdict(), style=verdict_style))
    return Group(title, table)


COHORT_LABEL_WIDTH, SIZE_WIDTH, CELL_WIDTH = 9, 7, 4


def heatmap_width(matrix: CohortMatrix) -> int:
    """The cells the heatmap needs to show every column whole."""
    return COHORT_LABEL_WIDTH + SIZE_WIDTH + CELL_WIDTH * matrix.width


def heatmap(matrix: CohortMatrix, palette: Palette, *, revenue: bool) -> RenderableType:
    """The cohort matrix as coloured cells: one row per contract month, one column per month."""
    if not matrix.rows:
        return Text("No contract started in the last 24 months.", style=palette.muted)
    table = Table.grid(padding=(0, 0))
    table.add_column(no_wrap=True)  # cohort
    table.add_column(justify="right", no_wrap=True)  # size
    for _ in range(matrix.width):
        table.add_column(justify="right", no_wrap=True, width=4)
    size_header = "ARR " if revenue else "logos"
    header = [
        Text("cohort  ", style=palette.label),
        Text(f"{size_header:>6} ", style=palette.label),
    ]
    header += [Text(f"M{k}".rjust(4), style=palette.muted) for k in range(matrix.width)]
    table.add_row(*header)
    for cohort in matrix.rows:
        size = money(cohort.starting_arr) if revenue else f"{cohort.size:,}"
        cells: list[Text] = []
        for k in range(matrix.width):
            value = cohort.cells[k] if k < len(cohort.cells) else None
            if value is None:
                cells.append(Text("    "))
            else:
                share = float(value)
                cells.append(Text(f"{share * 100:3.0f} ", style=palette.heat(share)))
        table.add_row(Text(f"{cohort.cohort}  "), Text(f"{size:>6} ", style=palette.muted), *cells)
    return table


class PortfolioScreen(Screen[None]):
    """The book at a glance, for a period."""

    DEFAULT_CSS = """
    PortfolioScreen #header {
        height: auto;
        padding: 0 1;
        background: $panel;
    }
    PortfolioScreen #body {
        padding: 0 1;
        overflow-x: auto;
    }
    PortfolioScreen #cohorts-title {
        height: auto;
        margin-top: 1;
    }
    PortfolioScreen #metrics, PortfolioScreen #check, PortfolioScreen #cohorts {
        height: auto;
    }
    PortfolioScreen #metrics, PortfolioScreen #check {
        margin-top: 1;
    }
    PortfolioScreen #message {
        margin-top: 1;
        color: $text-muted;
    }
    PortfolioScreen #message.-error {
        color: $error;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,p", "back", "Back"),
        Binding("1", "period('90d')", "90 days"),
        Binding("2", "period('quarter')", "Quarter"),
        Binding("3", "period('year')", "Year"),
        Binding("c", "toggle_cohorts", "Logos/revenue"),
        Binding("j,down", "scroll('down')", "Scroll", show=False),
        Binding("k,up", "scroll('up')", "Scroll", show=False),
    ]

    @dataclass
    class ReportLoaded(Message):
        """The worker computed the report for ``period``."""

        report: PortfolioReport
        period: str

    @dataclass
    class LoadFailed(Message):
        """The report could not be computed; ``text`` is one line for the user."""

        text: str

    @dataclass
    class CheckLoaded(Message):
        """The worker checked the score over the cache's history."""

        report: CheckReport

    def __init__(self, settings: Settings, today: date, period: str = "90d") -> None:
        super().__init__()
        self.settings = settings
        self.today = today
        self.period = period
        self.revenue = False
        self.report: PortfolioReport | None = None
        self.check: CheckReport | None = None

    def compose(self) -> ComposeResult:
        yield Static(self._header_text(), id="header")
        with VerticalScroll(id="body"):
            yield Static("Computing the portfolio…", id="message")
            yield Static(id="metrics")
            yield Static(id="check")
            yield Static(id="cohorts-title")
            yield Static(id="cohorts")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#body", VerticalScroll).focus()
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)
        self._load(self.period)
        self._load_check()

    def _theme_changed(self, _theme: object) -> None:
        if self.report is not None:  # heatmap colours come from the theme: repaint
            self._render_report()

    # -- loading (worker: no widgets touched here) ----------------------------------------

    @work(thread=True, exclusive=True, group="portfolio", exit_on_error=False)
    def _load(self, period: str) -> None:
        try:
            db = open_cache(self.settings.cache_path, create=False)
        except CsmError as exc:
            self.post_message(self.LoadFailed(str(exc)))
            return
        try:
            report = portfolio_report(db, self.settings, self.today, period)
        except (sqlite3.Error, ValueError) as exc:
            self.post_message(self.LoadFailed(f"The portfolio cannot be computed: {exc}."))
            return
        finally:
            db.conn.close()
        self.post_message(self.ReportLoaded(report, period))

    @work(thread=True, exclusive=True, group="portfolio-check", exit_on_error=False)
    def _load_check(self) -> None:
        try:
            db = open_cache(self.settings.cache_path, create=False)
        except CsmError:
            return  # the report's worker says what is wrong with the cache
        try:
            report = check_cache(db, self.settings, self.today)
        except (sqlite3.Error, ValueError):
            return  # the rest of the screen stands without it
        finally:
            db.conn.close()
        self.post_message(self.CheckLoaded(report))

    @on(CheckLoaded)
    def _check_loaded(self, message: CheckLoaded) -> None:
        self.check = message.report
        if self.report is not None:
            self._render_report()

    @on(LoadFailed)
    def _load_failed(self, message: LoadFailed) -> None:
        shown = self.query_one("#message", Static)
        shown.update(Text(message.text))
        shown.add_class("-error")
        shown.display = True

    @on(ReportLoaded)
    def _report_loaded(self, message: ReportLoaded) -> None:
        if message.period != self.period:
            return  # an answer to a period the user has already switched away from
        self.report = message.report
        self._render_report()

    # -- drawing ----------------------------------------------------------------------------

    def _palette(self) -> Palette:
        return Palette.from_variables(dict(self.app.theme_variables))

    def _header_text(self) -> Text:
        text = Text("Portfolio", style="bold")
        for key, (period, title) in zip("123", PERIODS, strict=True):
            text.append("   ")
            chosen = period == self.period
            text.append(f"{key} {title}", style="bold reverse" if chosen else "")
        if self.report is not None:
            r = self.report
            text.append(
                f"\n{r.period_start:%d %b %Y} – {r.period_end:%d %b %Y} · "
                f"{_plural(r.customers, 'customer')} today · {_plural(r.accounts, 'account')} cached",
                style=self._palette().muted,
            )
        return text

    def _render_report(self) -> None:
        report = self.report
        assert report is not None
        self.query_one("#header", Static).update(self._header_text())
        message = self.query_one("#message", Static)
        if report.accounts == 0:
            message.update("Nothing to report yet: sync (r) first, or try `csm-tui demo`.")
            message.display = True
            for part in ("#metrics", "#check", "#cohorts-title", "#cohorts"):
                self.query_one(part, Static).update("")
            return
        message.display = False
        palette = self._palette()
        self.query_one("#metrics", Static).update(metrics_table(report, palette))
        shown = self.query_one("#check", Static)
        shown.display = self.check is not None
        if self.check is not None:
            shown.update(check_panel(self.check, palette))
        matrix = report.cohorts_revenue if self.revenue else report.cohorts_logo
        # Capped at each cohort's starting ARR (expansion not counted): gross, like GRR.
        kind = "Gross revenue" if self.revenue else "Logo"
        title = Text.assemble(
            (f"{kind} retention by month of contract start", "bold"),
            ("  (M0 = 100%; blank = not reached yet; c switches)", palette.muted),
        )
        self.query_one("#cohorts-title", Static).update(title)
        cohorts = self.query_one("#cohorts", Static)
        # The heatmap keeps its cells whole: when the terminal is narrower, it scrolls sideways.
        cohorts.styles.min_width = heatmap_width(matrix)
        cohorts.update(heatmap(matrix, palette, revenue=self.revenue))

    # -- keys -------------------------------------------------------------------------------

    def action_period(self, period: str) -> None:
        """Switch the period and recompute (in the worker)."""
        if period == self.period:
            return
        self.period = period
        self.query_one("#header", Static).update(self._header_text())
        self._load(period)

    def action_toggle_cohorts(self) -> None:
        """Show revenue retention instead of logos, or back."""
        self.revenue = not self.revenue
        if self.report is not None:
            self._render_report()

    def action_scroll(self, direction: str) -> None:
        """Scroll the screen one line."""
        body = self.query_one("#body", VerticalScroll)
        if direction == "down":
            body.scroll_down(animate=False)
        else:
            body.scroll_up(animate=False)

    def action_back(self) -> None:
        """Back to the attention list."""
        self.dismiss(None)

"""`csm-tui doctor --remote`: ask HubSpot and PostHog whether the settings work, before a sync
finds out. Checks each token, the scopes each feature needs, the custom properties the settings
name, the owner, the PostHog project's timezone and group type, and shows HubSpot's daily
budget. One line per problem, saying what to do; never prints a token.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, fields, replace

import httpx

from csm_tui.config import Settings
from csm_tui.sources.http import ApiClient, ApiError, AuthError, HttpPolicy, SourceError
from csm_tui.sources.hubspot import HubSpot
from csm_tui.sources.posthog import PostHog
from csm_tui.sync.engine import analytics_client, crm_client, token_hint
from csm_tui.sync.mapping import PROPERTY_OBJECT, PropertyNames, missing_properties


@dataclass(frozen=True)
class Feature:
    """Something csm-tui does with HubSpot, and every scope the private app needs for it."""

    name: str
    scopes: tuple[str, ...]


# The private app's scopes per feature (csm_tui/fakes/CONTRACT.md, 1.6, 1.8; HS-spec security).
# The README's scope table lists the same.
FEATURES: tuple[Feature, ...] = (
    Feature("the book (companies)", ("crm.objects.companies.read",)),
    Feature("contacts", ("crm.objects.contacts.read",)),
    Feature("deals (renewals, expansion)", ("crm.objects.deals.read",)),
    Feature("tickets", ("tickets",)),
    Feature("NPS and CSAT (feedback submissions)", ("crm.objects.feedback_submissions.read",)),
    Feature("owners (your book, enrolling)", ("crm.objects.owners.read",)),
    Feature("the timeline (notes, calls, meetings, tasks)", ("crm.objects.contacts.read",)),
    Feature("logging touches and next steps", ("crm.objects.contacts.write",)),
    Feature("emails (reading and logging them)", ("sales-email-read",)),
    Feature("sequences (list, who is enrolled)", ("automation.sequences.read",)),
    Feature("enrolling contacts in sequences", ("automation.sequences.enrollments.write",)),
)
ADD_SCOPE = "add it to the private app's scopes (HubSpot: Settings > Integrations > Private Apps)"


@dataclass
class RemoteReport:
    """What the checks found, in order: ("ok", text) lines and ("problem", text) lines."""

    entries: list[tuple[str, str]] = field(default_factory=list)

    def ok(self, text: str) -> None:
        """Something that works (or a fact worth knowing)."""
        self.entries.append(("ok", text))

    def problem(self, text: str) -> None:
        """Something that does not work, in one line that says what to do."""
        self.entries.append(("problem", " ".join(text.split())))

    @property
    def problems(self) -> list[str]:
        """The problem lines alone."""
        return [text for kind, text in self.entries if kind == "problem"]

    def render(self) -> str:
        """The report as printed: one line per entry, then a verdict."""
        lines = ["remote checks"]
        lines += [f"  {'problem: ' if k == 'problem' else ''}{t}" for k, t in self.entries]
        n = len(self.problems)
        lines.append(f"{n} problem{'s' if n != 1 else ''} found" if n else "no problems found")
        return "\n".join(lines)


def lacking_scopes(granted: set[str]) -> dict[str, list[str]]:
    """Each scope the token lacks -> the features it stops, in FEATURES order."""
    found: dict[str, list[str]] = {}
    for feature in FEATURES:
        for scope in feature.scopes:
            if scope not in granted:
                found.setdefault(scope, []).append(feature.name)
    return found


class _DailyBudget:
    """Keeps HubSpot's daily budget headers from any answer (search answers carry none)."""

    def __init__(self) -> None:
        self.limit: int | None = None
        self.remaining: int | None = None

    async def __call__(self, response: httpx.Response) -> None:
        try:
            limit = int(response.headers["x-hubspot-ratelimit-daily"])
            remaining = int(response.headers["x-hubspot-ratelimit-daily-remaining"])
        except (KeyError, ValueError):
            return
        self.limit, self.remaining = limit, remaining


def _listen(client: ApiClient, hook: _DailyBudget) -> None:
    """Have ``hook`` see every answer's headers (the client itself keeps none of them)."""
    inner = getattr(client, "_client", None)
    if isinstance(inner, httpx.AsyncClient):
        inner.event_hooks["response"].append(hook)


async def check_crm(settings: Settings, report: RemoteReport, client: ApiClient) -> None:
    """The HubSpot checks: token, scopes, custom properties, owner, daily budget."""
    token = settings.crm.token.get_secret_value() if settings.crm.token else ""
    hs = HubSpot(client)
    budget = _DailyBudget()
    _listen(client, budget)
    try:
        info = await hs.token_info(token)
    except AuthError as exc:
        report.problem(str(exc))  # nothing else can work with this token
        return
    except SourceError as exc:
        report.problem(
            f"cannot read the CRM token's scopes ({exc}): check crm.base_url and the network"
        )
        info = None
    lacking: dict[str, list[str]] = {}
    if info is not None:
        granted = {str(s) for s in info.get("scopes") or ()}
        report.ok(
            f"crm token: portal {info.get('hubId')}, app {info.get('appId')}, {len(granted)} scopes"
        )
        lacking = lacking_scopes(granted)
        for scope, features in lacking.items():
            report.problem(
                f"CRM token lacks the scope {scope}, so {', '.join(features)} will not work: "
                f"{ADD_SCOPE}"
            )
    await _check_properties(settings, report, hs)
    if "crm.objects.owners.read" not in lacking:  # else said above
        await _check_owner(settings, report, hs)
    if settings.crm.sender_email:
        report.ok(f"sequences send from {settings.crm.sender_email} (crm.sender_email)")
    else:
        report.ok(
            "sequences send from the account owner's login email: set crm.sender_email if the "
            "inbox connected to HubSpot is another one"
        )
    if budget.limit is not None and budget.remaining is not None:
        report.ok(
            f"crm daily budget: {budget.remaining:,} of {budget.limit:,} requests left (it "
            "resets at midnight in the portal's time zone)"
        )
        if budget.remaining == 0:
            report.problem(
                "HubSpot's daily request budget is spent: sync again after midnight in the "
                "portal's time zone"
            )


async def _check_properties(settings: Settings, report: RemoteReport, hs: HubSpot) -> None:
    """Every custom property the settings name exists in the portal."""
    names = PropertyNames.from_settings(settings.crm.properties)
    wanted = sorted({PROPERTY_OBJECT[f.name] for f in fields(names) if getattr(names, f.name)})
    available: dict[str, set[str]] = {}
    for obj_type in wanted:
        try:
            available[obj_type] = await hs.properties(obj_type)
        except SourceError as exc:
            report.problem(f"cannot check the {obj_type} properties the settings name: {exc}")
    for obj_type, setting, prop in missing_properties(available, names):
        report.problem(
            f"{obj_type} property {prop!r} ({setting}) does not exist in HubSpot: set {setting} "
            'to the property\'s internal name, or to "" to go without it'
        )
    checked = [t for t in wanted if t in available]
    if checked:
        report.ok(f"crm properties checked on {', '.join(checked)}")


async def _check_owner(settings: Settings, report: RemoteReport, hs: HubSpot) -> None:
    """crm.owner_email names a HubSpot owner (the book is theirs)."""
    email = settings.crm.owner_email.strip()
    if not email:
        report.ok("crm owner: none set, the whole portal is the book")
        return
    try:
        page = await hs.owners_page(None, email=email)
    except SourceError as exc:
        report.problem(f"cannot check crm.owner_email: {exc}")
        return
    owner = next(
        (o for o in page.results if str(o.get("email") or "").lower() == email.lower()), None
    )
    if owner is None:
        report.problem(
            f"crm.owner_email {email} is no HubSpot owner: set it to the email you sign in to "
            'HubSpot with, or to "" for the whole portal'
        )
        return
    report.ok(f"crm owner: {email} is owner {owner.get('id')}, user {owner.get('userId')}")


async def check_analytics(settings: Settings, report: RemoteReport, client: ApiClient) -> None:
    """The PostHog checks: token and project (its timezone), the accounts' group type."""
    a = settings.analytics
    ph = PostHog(client, a.project_id)
    try:
        project = await ph.project()
    except AuthError as exc:
        report.problem(str(exc))
        return
    except ApiError as exc:
        if exc.status == 404:
            report.problem(
                f"analytics.project_id {a.project_id} is no PostHog project this key can see: "
                "set it to the number in your project's URL"
            )
        else:
            report.problem(
                f"{exc}: the personal API key needs project:read, query:read and group:read"
            )
        return
    except SourceError as exc:
        report.problem(f"cannot reach PostHog: {exc}")
        return
    report.ok(
        f"analytics project {a.project_id} ({project.name or 'unnamed'}): timezone "
        f"{project.timezone} (weeks and days are counted in it)"
    )
    try:
        types = await ph.group_types()
    except SourceError as exc:
        report.problem(f"cannot read the PostHog group types: {exc}")
        return
    known = {
        int(t["group_type_index"]): str(t.get("group_type") or "")
        for t in types
        if isinstance(t.get("group_type_index"), int)
    }
    if a.group_index in known:
        report.ok(f"analytics group type {a.group_index}: {known[a.group_index]!r}")
        return
    listed = ", ".join(f"{i} {name!r}" for i, name in sorted(known.items())) or "none"
    report.problem(
        f"analytics.group_index {a.group_index} is no group type of project {a.project_id} "
        f"(it has: {listed}): set it to the index of the group type your accounts are"
    )


async def check_remote(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    policy: HttpPolicy | None = None,
) -> RemoteReport:
    """Run every remote check; a problem found never stops the others."""
    policy = policy or HttpPolicy.from_settings(settings)
    # At most two tries per call: a doctor answers promptly, not after a long retry budget.
    policy = replace(policy, attempts=min(policy.attempts, 2))
    report = RemoteReport()
    if settings.crm.token:
        async with crm_client(settings, policy, transport) as client:
            await check_crm(settings, report, client)
    else:
        report.problem(f"CRM token is not set: set {token_hint(settings, 'crm')}")
    a = settings.analytics
    if a.token and a.project_id:
        async with analytics_client(settings, policy, transport) as client:
            await check_analytics(settings, report, client)
    elif a.token or a.project_id:
        missing = "project_id" if a.token else "token"
        report.problem(
            f"analytics.{missing} is not set: set CSM_TUI_ANALYTICS__{missing.upper()} or "
            f"analytics.{missing} in {settings.config_file}"
        )
    else:
        report.ok("analytics not configured (no token): usage is not pulled")
    return report


def run_remote(settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> int:
    """Print the remote checks; 1 when a problem was found."""
    report = asyncio.run(check_remote(settings, transport=transport))
    print(report.render())
    return 1 if report.problems else 0

"""Settings (pydantic-settings) and the paths csm-tui reads and writes.

Sources, strongest first: command-line flags > environment (``CSM_TUI_``, nested with ``__``)
> the TOML config file (``CSM_TUI_CONFIG`` or the platformdirs user config dir) > defaults.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from csm_tui.errors import CsmError
from csm_tui.paths import ENV_PREFIX, WorkspacePaths, config_path, default_data_dir

WORKSPACE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
LOOPBACK_NAMES = {"localhost"}


class ConfigError(CsmError):
    """A setting is invalid; the message is one line naming where and what."""

    exit_code = 2


def is_loopback_host(host: str | None) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if not host:
        return False
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(value: str) -> str:
    """Accept https URLs, and http only on loopback (fakes and tests)."""
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"must be an https:// URL, got {value!r}")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ValueError("must use https:// (plain http is allowed only for 127.0.0.1/localhost)")
    return value.rstrip("/")


class Section(BaseModel):
    """A nested settings section: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class CrmProperties(Section):
    """CRM property names that teams name differently; an empty name means "not used" (its
    data then counts as unknown, never as zero or false)."""

    arr: str = "arr"
    renewal_date: str = "renewal_date"
    contract_start: str = "contract_start_date"
    seats: str = "seats"
    cs_stage: str = "cs_stage"
    churn_date: str = "churn_date"
    contact_role: str = "cs_role"
    unsubscribed: str = "hs_email_optout"
    bounced: str = "hs_email_hard_bounce_reason"
    # Custom ticket properties most portals lack, so off unless named (e.g. "escalated",
    # "csat_score").
    ticket_escalated: str = ""  # a boolean ticket property: the ticket was escalated
    ticket_csat: str = ""  # a number ticket property: the ticket's CSAT answer (1-5)


class CrmSettings(Section):
    """HubSpot CRM connection."""

    base_url: str = "https://api.hubapi.com"
    token: SecretStr | None = None
    owner_email: str = ""
    # The inbox connected to HubSpot that sequences send from (Gmail, Office 365, IMAP); it can
    # differ from the login email. Empty: the account owner's login email is tried.
    sender_email: str = ""
    properties: CrmProperties = Field(default_factory=CrmProperties)
    timeout: float = Field(default=30.0, gt=0)
    concurrency: int = Field(default=4, ge=1, le=16)
    # HubSpot's search shows creates and updates late: each sync's search window starts this
    # long before the previous sync began, so a change the index had not shown yet is found
    # by the next sync.
    search_margin_minutes: float = Field(default=30.0, ge=1, le=24 * 60)

    _url = field_validator("base_url")(lambda cls, v: check_base_url(v))


class HttpSettings(Section):
    """Retry and rate-limit bounds for both APIs; unset fields keep the built-in defaults."""

    attempts: int | None = Field(default=None, ge=1, le=20)
    retry_total_seconds: float | None = Field(default=None, gt=0)
    wait_initial: float | None = Field(default=None, ge=0)
    wait_max: float | None = Field(default=None, ge=0)
    max_retry_after: float | None = Field(default=None, ge=0)
    # The HubSpot private app's 10-second budget: 100 on Free and Starter, 190 on Professional
    # and Enterprise (200 or 250 with an API limit increase).
    crm_per_ten_seconds: int | None = Field(default=None, ge=1, le=250)
    crm_search_per_second: int | None = Field(default=None, ge=1, le=5)
    crm_daily: int | None = Field(default=None, ge=1)
    analytics_per_minute: int | None = Field(default=None, ge=1, le=240)
    analytics_per_hour: int | None = Field(default=None, ge=1, le=2_400)
    analytics_concurrency: int | None = Field(default=None, ge=1, le=3)
    analytics_page_size: int | None = Field(default=None, ge=100, le=50_000)


class AnalyticsSettings(Section):
    """PostHog query API connection and what the events mean."""

    base_url: str = "https://us.posthog.com"
    project_id: str = ""
    token: SecretStr | None = None
    group_key: str = "domain"
    group_index: int = Field(default=0, ge=0, le=4)
    weeks: int = Field(default=26, ge=4, le=104)
    repull_weeks: int = Field(default=2, ge=0, le=8)
    timeout: float = Field(default=60.0, gt=0)
    activation_event: str = "project_created"
    key_features: list[str] = Field(
        default_factory=lambda: [
            "report_created",
            "dashboard_shared",
            "export_run",
            "integration_connected",
            "automation_created",
        ]
    )
    event_weights: dict[str, float] = Field(
        default_factory=lambda: {
            "login": 1.0,
            "report_created": 10.0,
            "dashboard_shared": 8.0,
            "export_run": 6.0,
            "integration_connected": 12.0,
            "automation_created": 10.0,
            "project_created": 5.0,
        }
    )
    default_event_weight: float = Field(default=1.0, ge=0)

    _url = field_validator("base_url")(lambda cls, v: check_base_url(v))


def _default_weights() -> dict[str, float]:
    """The component weights out of the box."""
    return {
        "usage": 30,
        "adoption": 15,
        "people": 15,
        "relationship": 15,
        "support": 10,
        "sentiment": 15,
    }


class DigestSettings(Section):
    """The digest (`csm-tui digest`)."""

    # A Slack incoming webhook that `csm-tui digest --post` sends the digest to. The URL is the
    # credential (whoever has it can post to the channel): kept secret, never printed in full.
    slack_webhook_url: SecretStr | None = None

    @field_validator("slack_webhook_url")
    @classmethod
    def _webhook_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        parts = urlsplit(value.get_secret_value().strip())
        # The error never quotes the URL: it is a secret.
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("must be the https:// URL of a Slack incoming webhook")
        if parts.scheme == "http" and not is_loopback_host(parts.hostname):
            raise ValueError("must use https:// (plain http is allowed only for 127.0.0.1)")
        return SecretStr(value.get_secret_value().strip())


def masked_url(url: str) -> str:
    """A secret URL as it may be shown: its scheme and host, the rest hidden."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}/…" if parts.scheme else "…"


class ScoringSettings(Section):
    """Health score weights and thresholds (docs/ARCHITECTURE.md)."""

    weights: dict[str, float] = Field(default_factory=_default_weights)
    green: int = Field(default=70, ge=0, le=100)
    yellow: int = Field(default=40, ge=0, le=100)
    trend_recent_weeks: int = Field(default=4, ge=1)
    trend_baseline_weeks: int = Field(default=8, ge=1)
    trend_full_ratio: float = 1.0
    trend_zero_ratio: float = 0.4
    people_active_days: int = 7
    people_inactive_days: int = 30
    power_user_quiet_days: int = 14
    overdue_step_penalty: int = 25
    ticket_open_days: int = 3
    ticket_open_penalty: int = 15
    ticket_escalated_penalty: int = 30
    ticket_low_csat_penalty: int = 20
    nps_max_age_days: int = 180
    drop_weeks: int = 4
    drop_points: int = 10
    expansion_seat_share: float = Field(default=0.9, gt=0, le=1)
    expansion_growth_ratio: float = Field(default=1.3, ge=1)
    power_users: int = Field(default=3, ge=1)

    @field_validator("weights")
    @classmethod
    def _known_components(cls, value: dict[str, float]) -> dict[str, float]:
        known = {"usage", "adoption", "people", "relationship", "support", "sentiment"}
        unknown = set(value) - known
        if unknown:
            raise ValueError(f"unknown component {sorted(unknown)[0]!r} (known: {sorted(known)})")
        if any(w < 0 for w in value.values()):
            raise ValueError("weights must be >= 0")
        return value

    @model_validator(mode="after")
    def _thresholds_agree(self) -> ScoringSettings:
        """Settings that only make sense together (each alone passes its own bounds)."""
        if self.green <= self.yellow:
            raise ValueError(f"green ({self.green}) must be above yellow ({self.yellow})")
        if self.people_active_days >= self.people_inactive_days:
            raise ValueError(
                f"people_active_days ({self.people_active_days}) must be below "
                f"people_inactive_days ({self.people_inactive_days})"
            )
        if self.trend_zero_ratio >= self.trend_full_ratio:
            raise ValueError(
                f"trend_zero_ratio ({self.trend_zero_ratio}) must be below trend_full_ratio "
                f"({self.trend_full_ratio})"
            )
        if self.weights and not any(self.weights.values()):
            raise ValueError("at least one weight must be above 0")
        return self


class TierSettings(Section):
    """Tiers by share of the book by ARR (or ARR amounts) and their touch cadences in days."""

    high_touch_share: float = Field(default=0.20, gt=0, lt=1)
    pooled_share: float = Field(default=0.50, gt=0, lt=1)
    high_touch_min_arr: float | None = None
    pooled_min_arr: float | None = None
    cadence_days: dict[str, int] = Field(
        default_factory=lambda: {"high-touch": 14, "pooled": 30, "tech-touch": 90}
    )

    @model_validator(mode="after")
    def _tiers_agree(self) -> TierSettings:
        """The two top tiers take shares of one book: together at most all of it."""
        if self.high_touch_share + self.pooled_share > 1:
            raise ValueError(
                f"high_touch_share + pooled_share ({self.high_touch_share} + "
                f"{self.pooled_share}) must be at most 1"
            )
        if (
            self.high_touch_min_arr is not None
            and self.pooled_min_arr is not None
            and self.high_touch_min_arr <= self.pooled_min_arr
        ):
            raise ValueError("high_touch_min_arr must be above pooled_min_arr")
        return self


class SegmentSetting(Section):
    """A saved dynamic filter; every field left out matches everything."""

    name: str
    stage: list[str] = Field(default_factory=list)
    tier: list[str] = Field(default_factory=list)
    band: list[str] = Field(default_factory=list)
    renewal_within_days: int | None = None
    inactive_days: int | None = None
    health_dropped: bool | None = None
    opportunity: bool | None = None
    owner: str = ""
    text: str = ""


class Settings(WorkspacePaths, BaseSettings):
    """Everything csm-tui can be told."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    crm: CrmSettings = Field(default_factory=CrmSettings)
    analytics: AnalyticsSettings = Field(default_factory=AnalyticsSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    digest: DigestSettings = Field(default_factory=DigestSettings)
    scoring: ScoringSettings = Field(default_factory=ScoringSettings)
    tiers: TierSettings = Field(default_factory=TierSettings)
    segments: list[SegmentSetting] = Field(default_factory=list)
    data_dir: Path = Field(default_factory=default_data_dir)
    workspace: str = "default"
    theme: str = "csm-dark"
    keymap: dict[str, str] = Field(default_factory=dict)
    keyring_service: str = ""

    @field_validator("workspace")
    @classmethod
    def _workspace_name(cls, value: str) -> str:
        if not WORKSPACE_RE.match(value):
            raise ValueError("must be letters, digits, '-', '_' or '.', at most 64 characters")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=config_path()),
        )


def _tokens_from_keyring(settings: Settings) -> None:
    """Fill unset tokens from the system keyring (service = keyring_service, user crm/analytics)."""
    if not settings.keyring_service:
        return
    try:
        import keyring  # optional: pip install keyring
    except ImportError:
        raise ConfigError(
            "keyring_service is set but the keyring package is not installed: pip install keyring"
        ) from None
    for section, user in ((settings.crm, "crm"), (settings.analytics, "analytics")):
        if section.token is None:
            try:
                found = keyring.get_password(settings.keyring_service, user)
            except Exception as exc:  # any backend failure: say which, never the secret
                raise ConfigError(
                    f"System keyring: cannot read the {user} token of service "
                    f"{settings.keyring_service!r} ({type(exc).__name__})"
                ) from None
            if found:
                section.token = SecretStr(found)


def _field_path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


def _env_name_for(loc: tuple[Any, ...]) -> str | None:
    """The environment variable that set the field at ``loc``, if one did."""
    parts = [str(p) for p in loc if not isinstance(p, int)]
    for n in range(len(parts), 0, -1):
        name = ENV_PREFIX + "__".join(parts[:n]).upper()
        for key in os.environ:
            if key.upper() == name:
                return key
    return None


def _describe(error: Mapping[str, object]) -> str:
    msg = str(error.get("msg", "invalid"))
    msg = msg.removeprefix("Value error, ")
    if error.get("type") == "extra_forbidden":
        msg = "unknown setting"
    return msg


def load_settings(**overrides: Any) -> Settings:
    """Build the settings; raise ConfigError with one clear line when anything is invalid.

    ``overrides`` are the command-line flags (strongest source); ``None`` values are ignored.
    """
    overrides = {k: v for k, v in overrides.items() if v is not None}
    path = config_path()
    if path.exists():
        try:
            with path.open("rb") as fh:
                tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"Config file {path}: TOML syntax error: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"Config file {path}: cannot be read: {exc.strerror}") from None
    try:
        settings = Settings(**overrides)
        _tokens_from_keyring(settings)
        return settings
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        loc = tuple(first.get("loc", ()))
        field = _field_path(loc) or "settings"
        if loc and loc[0] in overrides:
            where = "Command-line option"
        elif (env := _env_name_for(loc)) is not None:
            where = f"Environment variable {env}"
        else:
            where = f"Config file {path}"
        raise ConfigError(f"{where}: {field}: {_describe(first)}") from None
    except Exception as exc:  # pydantic-settings raises SettingsError for undecodable env JSON
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        found = re.search(r'field "(\w+)" from source "EnvSettingsSource"', text)
        if found:
            env = ENV_PREFIX + found.group(1).upper()
            raise ConfigError(
                f"Environment variable {env}: {found.group(1)}: not valid JSON"
            ) from None
        raise ConfigError(f"Invalid settings: {text}") from None

"""On the demo book: the score check reports an honest, imperfect signal, and score-diff's
figures are those of a real rescore with the other settings."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from support.apps import settle
from support.demo_book import NOW, TODAY, synced_demo

from csm_tui.cli import build_parser
from csm_tui.commands import score_check as score_check_command
from csm_tui.commands import score_diff as score_diff_command
from csm_tui.config import Settings
from csm_tui.domain.score_check import MIN_EACH
from csm_tui.store.as_of import health_as_of
from csm_tui.store.db import open_cache
from csm_tui.store.rescore import rescore
from csm_tui.store.score_check import check_cache, load_outcomes
from csm_tui.store.score_diff import preview_text, score_diff, settings_change_preview
from csm_tui.store.score_settings import scoring_fingerprint, used_config
from csm_tui.ui.app import CsmApp


@pytest.fixture(scope="module")
def demo_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    with synced_demo(tmp_path_factory.mktemp("demo-check")) as settings:
        yield settings


def pairs_auc(stay: list[float], leave: list[float]) -> float:
    u = sum(1.0 if s > x else 0.5 if s == x else 0.0 for s in stay for x in leave)
    return u / (len(stay) * len(leave))


def test_score_check_json_reports_auc_interval_counts_and_band_rates(
    demo_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    args = build_parser().parse_args(["score-check", "--json"])
    assert score_check_command.run(demo_settings, args, today=TODAY) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["horizon_days"] == 90
    # Enough outcomes, and an honest signal: better than chance, far from perfect.
    assert data["leavers"] >= 30 and data["stayers"] >= 30 and data["enough"]
    assert 0.6 <= data["auc"] <= 0.85
    low, high = data["ci95"]
    assert 0.5 < low < data["auc"] < high < 1.0
    assert sum(data["outcomes"].values()) == data["leavers"] + data["stayers"]
    assert data["outcomes"]["churned"] + data["outcomes"]["contracted"] == data["leavers"]
    bands = {b["band"]: b for b in data["bands"]}
    assert sum(b["accounts"] for b in bands.values()) == data["leavers"] + data["stayers"]
    assert sum(b["leavers"] for b in bands.values()) == data["leavers"]
    for b in bands.values():
        assert b["rate"] == (b["leavers"] / b["accounts"] if b["accounts"] else None)
    # Healthier bands lose fewer accounts.
    assert bands["green"]["rate"] < bands["yellow"]["rate"]
    assert {c["component"] for c in data["components"]} >= {"usage", "adoption", "support"}


def test_the_cache_auc_is_the_pairwise_statistic_of_the_scores_90_days_ahead(
    demo_settings: Settings,
) -> None:
    db = open_cache(demo_settings.cache_path, create=False)
    try:
        report = check_cache(db, demo_settings, TODAY, horizon=90)
        assert report.since is not None
        stay: list[float] = []
        leave: list[float] = []
        for outcome in load_outcomes(db, report.since, TODAY):
            day = outcome.day - timedelta(days=90)
            h = health_as_of(db, demo_settings, day, [outcome.account_id])[outcome.account_id]
            assert h.score is not None
            (leave if outcome.left else stay).append(float(h.score))
    finally:
        db.conn.close()
    assert report.check.overall.auc == pytest.approx(pairs_auc(stay, leave))
    assert (report.check.overall.leavers, report.check.overall.stayers) == (len(leave), len(stay))


def test_a_horizon_beyond_the_cached_history_has_too_few_outcomes(
    demo_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    args = build_parser().parse_args(["score-check", "--horizon", "600"])
    assert score_check_command.run(demo_settings, args, today=TODAY) == 0
    out = capsys.readouterr().out
    assert "Too few outcomes to tell: 0 left and 0 stayed" in out
    assert f"at least {MIN_EACH} of each" in out


def test_score_diff_with_the_usage_weight_doubled_matches_a_real_rescore(
    demo_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doubled = demo_settings.scoring.weights["usage"] * 2
    args = build_parser().parse_args(
        ["score-diff", "--weight", f"usage={doubled:g}", "--json", "--ranks", "10"]
    )
    before_bytes = demo_settings.cache_path.read_bytes()
    assert score_diff_command.run(demo_settings, args, today=TODAY) == 0
    data = json.loads(capsys.readouterr().out)
    assert demo_settings.cache_path.read_bytes() == before_bytes  # the cache is not written

    # A real rescore of a copy of the cache with that config.
    copy = tmp_path / "copy.db"
    src = open_cache(demo_settings.cache_path, create=False)
    try:
        src.execute(f"VACUUM INTO '{copy}'")
    finally:
        src.conn.close()
    weights = {**demo_settings.scoring.weights, "usage": doubled}
    other = demo_settings.model_copy(
        update={"scoring": demo_settings.scoring.model_copy(update={"weights": weights})}
    )
    db = open_cache(copy, create=False)
    try:
        was = {
            r[0]: (r[1], r[2]) for r in db.execute("SELECT account_id, health, band FROM scores")
        }
        rescore(db, other, TODAY)
        now = {
            r[0]: (r[1], r[2]) for r in db.execute("SELECT account_id, health, band FROM scores")
        }
    finally:
        db.conn.close()
    changed = {acc for acc in was if was[acc][1] != now[acc][1]}
    assert changed, "doubling the usage weight moves some account across a band"
    assert {c["account_id"] for c in data["band_changes"]} == changed
    for c in data["band_changes"]:
        acc = c["account_id"]
        assert c["health"] == [was[acc][0], now[acc][0]]
        assert c["band"] == [was[acc][1], now[acc][1]]
    assert all(abs(m["rank"][0] - m["rank"][1]) > 10 for m in data["rank_moves"])
    assert data["check"]["before"]["auc"] is not None and data["check"]["after"]["auc"] is not None
    assert data["check"]["before"]["auc"] != data["check"]["after"]["auc"]


def test_score_diff_refuses_bad_settings_in_one_line(
    demo_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv, message in (
        (["--weight", "usage=lots"], "--weight 'usage=lots': 'lots' is not a number"),
        (["--weight", "mood=10"], "unknown component 'mood'"),
        (["--threshold", "green=30"], "green (30) must be above yellow (40)"),
        ([], "Say what to compare with"),
    ):
        args = build_parser().parse_args(["score-diff", *argv])
        with pytest.raises(score_diff_command.ScoreDiffInputError) as err:
            score_diff_command.run(demo_settings, args, today=TODAY)
        assert message in str(err.value) and "\n" not in str(err.value)


def test_score_diff_reads_a_second_config_file(demo_settings: Settings, tmp_path: Path) -> None:
    other = tmp_path / "other.toml"
    other.write_text("[scoring]\ngreen = 80\n", encoding="utf-8")
    args = build_parser().parse_args(["score-diff", "--config", str(other), "--json"])
    db = open_cache(demo_settings.cache_path, create=False)
    try:
        diff = score_diff(
            db,
            demo_settings,
            score_diff_command.other_settings(demo_settings, {}, {}, other),
            TODAY,
            check=False,
        )
    finally:
        db.conn.close()
    # A higher green line only ever takes accounts out of green, into yellow.
    assert diff.band_changes
    assert all((c.before.band, c.after.band) == ("green", "yellow") for c in diff.band_changes)
    assert all(c.before.health == c.after.health for c in diff.band_changes)
    assert args.config == str(other)


def copied(settings: Settings, root: Path) -> Settings:
    """The demo workspace copied under ``root`` (a test that writes to it keeps to its copy)."""
    shutil.copytree(settings.data_dir, root / "data")
    return settings.model_copy(update={"data_dir": root / "data"})


def doubled_usage(settings: Settings) -> Settings:
    weights = {**settings.scoring.weights, "usage": settings.scoring.weights["usage"] * 2}
    return settings.model_copy(
        update={"scoring": settings.scoring.model_copy(update={"weights": weights})}
    )


def test_a_changed_config_is_previewed_once_against_the_last_rescore(
    demo_settings: Settings, tmp_path: Path
) -> None:
    settings = copied(demo_settings, tmp_path)
    changed = doubled_usage(settings)
    db = open_cache(settings.cache_path, create=False)
    try:
        used = used_config(db)
        assert used is not None and used.fingerprint == scoring_fingerprint(settings)
        assert settings_change_preview(db, settings, TODAY) is None  # nothing changed
        preview = settings_change_preview(db, changed, TODAY)
        assert preview is not None
        expected = score_diff(db, settings, changed, TODAY)
        assert preview.band_changes == expected.band_changes
        assert preview.rank_moves == expected.rank_moves
        assert "would change band" in preview_text(preview)
        assert settings_change_preview(db, changed, TODAY) is None  # once
        rescore(db, changed, TODAY)  # now in use: nothing to preview, and back is a change
        assert settings_change_preview(db, changed, TODAY) is None
        assert settings_change_preview(db, settings, TODAY) is not None
    finally:
        db.conn.close()


async def test_the_app_says_once_what_a_changed_config_would_change(
    demo_settings: Settings, tmp_path: Path
) -> None:
    changed = doubled_usage(copied(demo_settings, tmp_path))
    for opening, expected in ((1, 1), (2, 0)):
        app = CsmApp(changed, today=TODAY, clock=lambda: NOW, auto_sync=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await settle(pilot)
            shown = [n for n in app._notifications if n.title == "Scoring settings changed"]
            assert len(shown) == expected, opening
            if expected:
                assert "would change band" in shown[0].message


def test_a_component_weighted_zero_is_left_out_of_the_cause_chips(
    demo_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `[scoring.weights] usage = 60` alone leaves the other components at no weight: the
    # rescore (and so score-diff) used to stop on their chips (KeyError: 'adoption').
    settings = copied(demo_settings, tmp_path)
    usage_only = settings.model_copy(
        update={"scoring": settings.scoring.model_copy(update={"weights": {"usage": 60.0}})}
    )
    db = open_cache(settings.cache_path, create=False)
    try:
        rescore(db, usage_only, TODAY)
        drivers = json.loads(db.execute("SELECT drivers FROM scores LIMIT 1").fetchone()[0])
    finally:
        db.conn.close()
    assert [d["component"] for d in drivers if d["max"]] == ["usage"]
    args = build_parser().parse_args(["score-diff", "--weight", "adoption=0", "--json"])
    assert score_diff_command.run(settings, args, today=TODAY) == 0
    assert json.loads(capsys.readouterr().out)["accounts"] > 0

"""The README stays true: every setting, every key, the two set-up commands, the screenshot."""

from __future__ import annotations

import re

from pydantic import BaseModel
from support.readme import README, ROOT

from csm_tui.config import Settings


def setting_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    paths = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            paths += setting_paths(ann, f"{prefix}{name}.")
        else:
            paths.append(prefix + name)
    return paths


def test_every_setting_is_in_the_configuration_reference_with_its_variable() -> None:
    for path in setting_paths(Settings):
        env = "CSM_TUI_" + "__".join(p.upper() for p in path.split("."))
        assert f"| `{path}` | `{env}` |" in README, f"README lacks setting {path}"


def test_the_key_map_matches_the_app() -> None:
    from csm_tui.ui.keymap import ALL_BINDINGS

    for binding in ALL_BINDINGS:
        assert f"| `{binding.id}` |" in README, f"README lacks binding {binding.id}"
        row = next(line for line in README.splitlines() if line.endswith(f"| `{binding.id}` |"))
        first_key = binding.key_display or binding.key.split(",")[0]
        spelled = {
            "question_mark": "?",
            "slash": "/",
            "pagedown": "pgdn",
            "pageup": "pgup",
            "escape": "esc",
        }
        assert spelled.get(first_key, first_key) in row, (binding.id, row)


def test_exactly_two_set_up_commands() -> None:
    setup = README.split("## Set up", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.*?)\n```", setup, re.DOTALL)
    assert commands == ["pip install . && csm-tui demo", 'pip install -e ".[test]" && pytest']


def test_the_screenshot_exists() -> None:
    for target in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README):
        assert (ROOT / target).is_file(), target

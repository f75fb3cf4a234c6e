"""Every config key, query option, operator and CLI option is documented in the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from explorer import cli, config, tree

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")

KEYS = sorted({*config.TOP_KEYS, *config.DATABASE_KEYS, *config.MODEL_KEYS, *config.ASSOCIATION_KEYS,
               *tree.QUERY_KEYS, *tree.INCLUDE_KEYS, *tree.THROUGH_KEYS, *tree.OPERATORS, *tree.STRATEGIES})


@pytest.mark.parametrize("key", KEYS)
def test_key_is_documented(key):
    # as a key of its own (`limit`) or at the end of a key path (`databases.<name>.url`)
    assert re.search(rf"`([^`\s]*\.)?{re.escape(key)}`", README), key


def cli_options() -> list[str]:
    parser = cli._parser()
    commands = parser._subparsers._group_actions[0].choices
    return sorted({option for sub in commands.values() for action in sub._actions
                   for option in action.option_strings if option.startswith("--") and option != "--help"})


@pytest.mark.parametrize("option", cli_options())
def test_cli_option_is_documented(option):
    assert option in README

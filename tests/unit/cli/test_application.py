"""The command line builds the one command its arguments name (typer turns each into click's in every run), and
every command when they name none: help, a misspelt name."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import generator.cli
from generator.cli import COMMANDS, GROUPS, application


def _built(argv: list[str]) -> list[str]:
    app = application(argv)
    return [str(info.name) for info in app.registered_commands] + [str(g.name) for g in app.registered_groups]


def test_every_command_module_is_listed_under_its_own_name() -> None:
    modules = {
        info.name: importlib.import_module(f"generator.cli.{info.name}")
        for info in pkgutil.iter_modules(generator.cli.__path__)
        if not info.name.startswith("_")
    }
    commands = {module.NAME: name for name, module in modules.items() if hasattr(module, "NAME")}
    groups = {name for name, module in modules.items() if hasattr(module, "app")}
    assert commands == COMMANDS
    assert groups == set(GROUPS)


@pytest.mark.parametrize(
    ("argv", "built"),
    [
        (["render", "--repo", "x"], ["render"]),
        (["--debug", "--lock-timeout", "3", "generate", "--check"], ["generate"]),
        (["--lock-timeout=3", "smoke-test", "wine"], ["smoke-test"]),
        (["schemas", "fetch"], ["schemas"]),
    ],
)
def test_a_command_line_that_names_a_command_builds_that_one(argv: list[str], built: list[str]) -> None:
    assert _built(argv) == built


@pytest.mark.parametrize("argv", [[], ["--help"], ["rendr"], ["--lock-timeout", "render"], ["smoke"]])
def test_a_command_line_that_names_none_builds_every_one_in_the_order_help_lists_them(argv: list[str]) -> None:
    assert _built(argv) == [*COMMANDS, *GROUPS]

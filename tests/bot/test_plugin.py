"""A feature from a separately installed package plugs in through its entry point, with no core edit: its
settings section, migration, route and chat command all work, and the core's own route order holds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli.main import main
from bot.config import ConfigError, load_config
from bot.plugin import ANSWER_HANDOFF, ANSWER_RULES, PlacedRoute, RoutePlacement, ordered_routes
from bot.routing import RouteReply, TurnContext
from tests.distributions import installed, write_distribution
from tests.support import build_test_app, incoming, write_config

GREETER = '''
"""An example feature shipped in its own package."""

import click
import sqlite_utils
from pydantic import BaseModel, ConfigDict

from bot.migration_set import MigrationSet
from bot.plugin import BaseFeature, FeatureContext, FeatureSpec
from bot.routing import Command, RouteReply


class GreeterSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    greeting: str = "hello"


migrations = MigrationSet("greeter")


@migrations
def m001_greetings(db: sqlite_utils.Database) -> None:
    # `greeted` holds "platform:user" in a form the core's privacy registry does not recognise: only the
    # feature's own export and forget hooks know it is about a person.
    db.table("greetings").create({"id": int, "conversation": str, "greeted": str}, pk="id")


class GreeterRoute:
    name = "greeter"

    def __init__(self, feature):
        self.feature = feature

    async def respond(self, turn):
        if turn.text.lower() != "ping":
            return None
        person = f"{turn.message.platform}:{turn.message.author.user_id}"
        self.feature.store.db.table("greetings").insert({"conversation": turn.session_id, "greeted": person})
        return RouteReply(self.feature.section.greeting + " (route)", "greeter", gate=False)


class Greeter(BaseFeature):
    name = "greeter"

    def install(self, context: FeatureContext) -> None:
        self.section = context.section(GreeterSection)
        self.store = context.store
        context.add_route(GreeterRoute(self), priority=15)
        context.add_command(Command("greet", "say the greeting", self.greet))

    async def greet(self, turn, args):
        return self.section.greeting + " (command)"

    def export_user(self, platform, user_id):
        return list(self.store.db.query("select * from greetings where greeted = ?", [f"{platform}:{user_id}"]))

    def forget_user(self, platform, user_id):
        return self.store.db.execute("delete from greetings where greeted = ?", [f"{platform}:{user_id}"]).rowcount


@click.command("greeter-hello")
def hello():
    """Say hello from the greeter package."""
    click.echo("hello from the greeter package")


COMMANDS = [hello]

spec = FeatureSpec(
    "greeter",
    lambda config: Greeter(),
    settings_section="greeter",
    settings_model=GreeterSection,
    migrations=migrations,
    cli_modules=("greeter_feature",),
)
'''


@pytest.fixture
def greeter_site(tmp_path: Path) -> Path:
    site = tmp_path / "site-packages"
    files = write_distribution(
        site,
        "greeter-feature",
        "0.1",
        {"greeter_feature/__init__.py": GREETER},
        {"socialbot.features": {"greeter": "greeter_feature:spec"}},
    )
    # Adding the feature touches only its own distribution: a module, METADATA and entry_points.txt.
    assert sorted(path.name for path in files) == ["METADATA", "__init__.py", "entry_points.txt"]
    return site


async def test_an_installed_feature_package_brings_its_settings_migration_route_and_command(
    tmp_path: Path, greeter_site: Path
) -> None:
    with installed(greeter_site):
        app = build_test_app(tmp_path, config_text='[greeter]\ngreeting = "ahoy"\n')
        try:
            assert "greeter" in [feature.name for feature in app.features]
            assert app.config.section_named("greeter") == app.features[-1].section  # type: ignore[attr-defined]
            applied = {
                row["name"]
                for row in app.store.db.query("select name from _migrations where migration_set = 'greeter'")
            }
            assert applied == {"m001_greetings"}
            [by_route] = await app.manager.handle(incoming("ping"))
            [by_command] = await app.manager.handle(incoming("/greet"))
            assert (by_route.text, by_command.text) == ("ahoy (route)", "ahoy (command)")
            assert app.store.db.table("greetings").count == 1
            names = [route.name for route in app.routes]
            # Priority 15 in the answer stage: after the ticket handoff (10), before auto-replies (20).
            assert names.index("kb:handoff") < names.index("greeter") < names.index("rules")
        finally:
            app.store.close()


async def test_privacy_export_and_forget_reach_an_installed_feature_package_through_its_hooks(
    tmp_path: Path, greeter_site: Path
) -> None:
    with installed(greeter_site):
        app = build_test_app(tmp_path)
        try:
            await app.manager.handle(incoming("ping", platform="telegram", chat_id="7", user_id="7"))
            await app.manager.handle(incoming("ping", platform="telegram", chat_id="8", user_id="8"))
        finally:
            app.store.close()
        config = str(write_config(tmp_path))
        out = tmp_path / "export.json"
        runner = CliRunner()
        exported = runner.invoke(main, ["--config", config, "privacy", "export", "telegram:7", "--out", str(out)])
        assert exported.exit_code == 0, exported.output
        assert "greeter (feature): 1" in exported.output
        [row] = json.loads(out.read_text(encoding="utf-8"))["features"]["greeter"]
        assert row["greeted"] == "telegram:7"

        forgot = runner.invoke(main, ["--config", config, "privacy", "forget", "telegram:7", "--json"])
        assert forgot.exit_code == 0, forgot.output
        assert json.loads(forgot.output)["features"] == {"greeter": 1}
        reopened = build_test_app(tmp_path)
        try:
            assert [row["greeted"] for row in reopened.store.db.query("select greeted from greetings")] == [
                "telegram:8"
            ]
        finally:
            reopened.store.close()


def test_a_plugin_section_is_validated_with_the_same_one_line_errors(tmp_path: Path, greeter_site: Path) -> None:
    with installed(greeter_site), pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, '[greeter]\ngreting = "typo"\n'), environ={})
    assert "greeter.greting" in str(caught.value) and "unknown key" in str(caught.value)


def test_without_the_package_its_section_is_an_unknown_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, '[greeter]\ngreeting = "ahoy"\n'), environ={})
    assert "greeter" in str(caught.value)


def test_an_installed_feature_package_adds_its_cli_command(greeter_site: Path) -> None:
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join([str(greeter_site), os.environ.get("PYTHONPATH", "")])}
    script = "from bot.cli.main import main; main(['greeter-hello'])"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environ, timeout=120)
    assert result.stdout.strip() == "hello from the greeter package", result.stderr


class _Answers:
    def __init__(self, name: str, guards: bool = False) -> None:
        self.name = name
        self.guards_commands = guards

    async def respond(self, turn: TurnContext) -> RouteReply | None:
        return RouteReply(self.name, self.name)


def test_routes_run_by_stage_then_priority_whatever_the_install_order() -> None:
    placements = [
        RoutePlacement(_Answers("rules"), ANSWER_RULES),
        RoutePlacement(_Answers("observer"), 5, stage="guard", stops=False),
        RoutePlacement(_Answers("handoff"), ANSWER_HANDOFF),
        RoutePlacement(_Answers("automod", guards=True), 1, stage="guard"),
    ]
    routes = ordered_routes(placements)
    assert [route.name for route in routes] == ["automod", "observer", "handoff", "rules"]
    assert isinstance(routes[1], PlacedRoute) and routes[1].guards_commands and not routes[1].stops


async def test_an_observer_that_answers_does_not_stop_the_turn(tmp_path: Path) -> None:
    [observer] = ordered_routes([RoutePlacement(_Answers("observer"), 5, stage="guard", stops=False)])
    app = build_test_app(tmp_path, features=[])
    try:
        turn = TurnContext(incoming("hi"), "hi", 1, 1, 1, True)
        assert await observer.respond(turn) is None
    finally:
        app.store.close()

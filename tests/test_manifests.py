"""The app manifests in deploy/: the Teams package builds and names our bot; the Slack manifest asks
for exactly what the listeners need (assistant threads, mentions, thread follow-ups, the command)."""
from __future__ import annotations

import importlib.util
import json
import struct
import zipfile

import pytest

from tests.conftest import ROOT

APP_ID = "00000000-1111-2222-3333-444444444444"


def package_module():
    spec = importlib.util.spec_from_file_location("teams_package", ROOT / "deploy" / "teams" / "package.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_the_teams_package_names_our_bot_and_carries_both_icons(tmp_path):
    out = package_module().build(APP_ID, "madoguchi.example.lg.jp", 'City "A" association', tmp_path / "app.zip")
    with zipfile.ZipFile(out) as z:
        assert sorted(z.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(z.read("manifest.json"))
        assert png_size(z.read("color.png")) == (192, 192) and png_size(z.read("outline.png")) == (32, 32)
    assert "{{" not in json.dumps(manifest)
    assert manifest["manifestVersion"] == "1.22" and manifest["id"] == APP_ID
    [bot] = manifest["bots"]
    assert bot["botId"] == APP_ID and set(bot["scopes"]) == {"personal", "team", "groupChat"}
    assert manifest["developer"]["name"] == 'City "A" association'
    assert manifest["validDomains"] == ["madoguchi.example.lg.jp"]
    with pytest.raises(SystemExit, match="GUID"):
        package_module().build("not-a-guid", "h", "o", tmp_path / "x.zip")


def test_the_slack_manifest_matches_the_listeners():
    manifest = json.loads((ROOT / "deploy" / "slack" / "manifest.json").read_text(encoding="utf-8"))
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"assistant_thread_started", "assistant_thread_context_changed", "message.im"} <= events  # assistant
    assert {"app_mention", "message.channels"} <= events  # mentions and thread follow-ups
    assert {"assistant:write", "im:history", "chat:write", "app_mentions:read", "channels:history", "commands"} <= scopes
    assert "assistant_view" in manifest["features"]
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == "/madoguchi" and command["url"].endswith("/slack/events")

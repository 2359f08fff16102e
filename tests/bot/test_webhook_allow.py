"""SESSIONBOT_WEBHOOK_ALLOW: read by the operator's configuration, wired to `add` and the sender."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import open_core
from bot.config import load_config
from core.clock import ManualClock
from core.errors import ConfigError
from tests.conftest import CHAT, actor

ADMIN = actor("root")


@pytest.mark.parametrize("entry", ["http://x", "10.0.0.0/33", "bad host!", "a/b"])
def test_a_bad_entry_names_the_variable(entry: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config({"SESSIONBOT_WEBHOOK_ALLOW": entry})
    assert "SESSIONBOT_WEBHOOK_ALLOW" in str(caught.value)


def test_entries_are_hosts_addresses_and_networks() -> None:
    policy = load_config(
        {"SESSIONBOT_WEBHOOK_ALLOW": "Receiver.Test., 127.0.0.1 10.1.0.0/16,[::1]"}
    ).webhook_policy
    assert policy.hosts == {"receiver.test"}
    assert [str(n) for n in policy.networks] == ["127.0.0.1/32", "10.1.0.0/16", "::1/128"]
    assert policy.check_address("receiver.test", "127.0.0.1") is None
    assert policy.check_address("other.test", "10.1.2.3") is None
    assert policy.check_address("other.test", "10.2.0.1") == "a private or reserved address"
    assert load_config({}).webhook_policy.hosts == frozenset()


async def test_the_operator_allow_list_reaches_add_and_the_sender(
    tmp_path: Path, clock: ManualClock
) -> None:
    for allow, accepted in (("", False), ("127.0.0.1", True)):
        env = {
            "SESSIONBOT_DATABASE_URL": f"sqlite:///{tmp_path}/allow{accepted}.db",
            "SESSIONBOT_ADMINS": "root",
            "SESSIONBOT_WEBHOOK_ALLOW": allow,
        }
        config = load_config(env)
        core = await open_core(config, clock=clock)
        try:
            assert core.webhook_sender is not None
            assert core.webhook_sender.policy == config.webhook_policy
            reply = await core.runner.run(ADMIN, CHAT, "webhook add http://127.0.0.1:8080/h")
            assert reply is not None
            assert ("added" in reply.view.title) is accepted, reply.view.title
            assert len(await core.store.webhooks.in_workspace(CHAT.workspace)) == int(accepted)
        finally:
            await core.close()

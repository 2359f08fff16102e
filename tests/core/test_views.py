"""Neutral views survive the outbox's JSON round trip unchanged."""

from __future__ import annotations

import json

from core.views import Accent, Button, Field, View


def test_view_json_round_trip() -> None:
    view = View(
        kind="plan",
        title="Plan v1 for #3 &lt;deploy&gt;",
        fields=[Field("Approvals", "1/2"), Field("Members", "<@amy>", inline=False)],
        blocks=["1. Back up", "2. Migrate"],
        buttons=[Button("plan_approve", "p1", "Approve", "primary")],
        footer="page 1",
        accent=Accent.WARNING,
        session_ref=3,
        meta={"plan_id": "p1"},
    )
    data = json.loads(json.dumps(view.to_json()))
    assert View.from_json(data) == view

"""Neutral views survive the outbox's JSON round trip unchanged."""

from __future__ import annotations

import json

from core.views import Accent, Button, Confirm, Field, View


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


def test_a_confirm_and_a_summary_survive_the_round_trip_and_older_views_read_without_them() -> None:
    ask = Confirm("Approve the deploy plan?", "Approve it?", "Approve", "Cancel")
    view = View(
        kind="plan",
        title="Plan v1",
        buttons=[Button("plan_approve", "p1", "Approve", "primary", confirm=ask)],
        summary="Plan v1: 1 of 2 items done (50 %)",
    )
    assert View.from_json(json.loads(json.dumps(view.to_json()))) == view
    stored = {  # as the outbox stored views before buttons could ask
        "kind": "plan",
        "title": "Plan v1",
        "buttons": [{"action_id": "plan_approve", "value": "p1", "label": "A", "style": "primary"}],
    }
    (button,) = View.from_json(stored).buttons
    assert button.confirm is None and View.from_json(stored).summary is None
    assert "confirm" not in Button("a", "v", "A").to_json()  # absent, not null

"""Neutral views of the scheduler feature: reminders, summaries, settings, webhooks, job health."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from core.cards import label, request_fields
from core.durations import format_duration
from core.models import Session
from core.records.jobs import JobRun, Reminder, Subscription, SummaryRows, WebhookSubscription
from core.records.requests import RequestStats
from core.views import Accent, Field, View, escape, mention


def _ago(value: datetime, now: datetime) -> str:
    return f"{format_duration(now - value)}" if now > value else "0s"


def _local(value: datetime, timezone: str) -> str:
    return value.astimezone(ZoneInfo(timezone)).strftime(f"%Y-%m-%d %H:%M {timezone}")


def pending_reminder(session: Session, number: int, since: datetime, now: datetime) -> View:
    return View(
        kind="reminder",
        title=f"Reminder: session {label(session)} is waiting for plan approval",
        blocks=[f"Pending for {_ago(since, now)} (reminder {number} of 3)."],
        accent=Accent.WARNING,
        session_ref=session.ref,
        meta={"session_id": session.id, "reminder": "auto_pending", "number": number},
    )


def paused_reminder(session: Session, now: datetime) -> View:
    return View(
        kind="reminder",
        title=f"Reminder: session {label(session)} has been paused for "
        f"{_ago(session.last_activity_at, now)}",
        blocks=["Resume it, complete it or cancel it."],
        accent=Accent.WARNING,
        session_ref=session.ref,
        meta={"session_id": session.id, "reminder": "auto_paused"},
    )


def abandon_warning(session: Session, now: datetime) -> View:
    deadline = session.abandon_at or now
    return View(
        kind="reminder",
        title=f"Session {label(session)} will be abandoned in {_ago(now, deadline)} "
        "unless something happens",
        blocks=[f"Use `/session extend {session.ref} <duration>` to keep it open."],
        accent=Accent.WARNING,
        session_ref=session.ref,
        meta={"session_id": session.id, "reminder": "auto_abandon_warning"},
    )


def user_reminder(session: Session | None, reminder: Reminder) -> View:
    about = f" about session {label(session)}" if session else ""
    return View(
        kind="reminder",
        title=f"Reminder{about}",
        blocks=[escape(reminder.text)] if reminder.text else [],
        accent=Accent.INFO,
        session_ref=session.ref if session else None,
        meta={"reminder": "user", "reminder_id": reminder.id},
    )


def reminder_set(session: Session, reminder: Reminder, timezone: str) -> View:
    return View(
        kind="confirmation",
        title=f"Reminder set for {_local(reminder.due_at, timezone)} about {label(session)}",
        blocks=[escape(reminder.text)] if reminder.text else [],
        session_ref=session.ref,
        meta={"reminder_id": reminder.id},
    )


def summary(
    channel_id: str,
    rows: SummaryRows,
    approval_latency: timedelta | None,
    *,
    since: datetime,
    now: datetime,
    requests: RequestStats,
) -> View:
    """A channel summary: what started and ended since the last one, what waits, who is idle."""
    ended = ", ".join(f"{k}: {v}" for k, v in sorted(rows.outcomes.items())) or "none"
    latency = format_duration(approval_latency) if approval_latency is not None else "—"
    fields = [
        Field("Started", str(rows.started)),
        Field("Completed", str(rows.outcomes.get("completed", 0))),
        Field("Failed", str(rows.outcomes.get("failed", 0))),
        Field("Abandoned", str(rows.outcomes.get("abandoned", 0))),
        Field("Ended", ended, inline=False),
        Field("Median approval latency", latency),
        *request_fields(requests),
    ]
    blocks = ["*Waiting for approval*"]
    blocks += [f"{label(s)} — pending {_ago(at, now)}" for s, at in rows.pending] or ["none"]
    blocks.append("*Idle longest*")
    blocks += [
        f"{label(s)} — {mention(s.owner_id)}, idle {_ago(s.last_activity_at, now)}"
        for s in rows.idle
    ] or ["none"]
    return View(
        kind="summary",
        title=f"Summary for #{escape(channel_id)} since {since:%Y-%m-%d %H:%M} UTC",
        fields=fields,
        blocks=blocks,
        meta={"channel_id": channel_id},
    )


def summary_scheduled(sub: Subscription, next_at: datetime) -> View:
    return View(
        kind="confirmation",
        title=f"Summaries for #{escape(sub.channel_id)}: {sub.schedule} ({sub.timezone})",
        blocks=[f"Next one at {_local(next_at, sub.timezone)}."],
        meta={"channel_id": sub.channel_id},
    )


def summary_unscheduled(channel_id: str) -> View:
    return View(
        kind="summary_schedule",
        title=f"Summaries for #{escape(channel_id)} are not scheduled",
        blocks=["An admin can schedule them: `/session summary daily 09:00`."],
        meta={"channel_id": channel_id},
    )


def summary_off(channel_id: str, removed: bool) -> View:
    text = "turned off" if removed else "were not scheduled"
    return View(kind="confirmation", title=f"Summaries for #{escape(channel_id)} {text}")


def settings(shown: dict[str, str], *, changed: str | None = None) -> View:
    title = f"Workspace setting {changed} updated" if changed else "Workspace settings"
    fields = [Field(key, escape(value)) for key, value in shown.items()]
    return View(kind="settings", title=title, fields=fields)


def webhook_added(webhook: WebhookSubscription) -> View:
    return View(
        kind="webhook",
        title=f"Webhook {webhook.id[:8]} added for {escape(webhook.url)}",
        fields=[
            Field("Events", ", ".join(webhook.events) or "all"),
            Field("Secret", f"`{webhook.secret}`", inline=False),
        ],
        blocks=[
            "The secret is shown only now. Verify each delivery: X-Sessionbot-Signature-V1 is "
            "v1=<hex HMAC-SHA256 of `<X-Sessionbot-Timestamp>.<raw body>` with this secret>; "
            "refuse old timestamps (e.g. over 5 minutes)."
        ],
        accent=Accent.WARNING,
    )


def webhook_removed(webhook: WebhookSubscription) -> View:
    return View(
        kind="confirmation", title=f"Webhook {webhook.id[:8]} removed ({escape(webhook.url)})"
    )


def webhook_list(
    webhooks: list[WebhookSubscription], refused: Mapping[str, str | None] | None = None
) -> View:
    """`refused`: why a subscription's URL breaks the target policy (it is not delivered)."""
    refused = refused or {}
    lines = [
        f"{w.id[:8]} · {escape(w.url)} · {', '.join(w.events) or 'all events'}"
        + ("" if w.active else " · inactive")
        + (f" · not delivered: {escape(reason)}" if (reason := refused.get(w.id)) else "")
        for w in webhooks
    ]
    return View(
        kind="list",
        title=f"Webhooks ({len(webhooks)})",
        blocks=lines or ["No webhooks. Add one with `/session webhook add <url> [events…]`."],
    )


def job_fields(runs: list[JobRun], now: datetime) -> list[Field]:
    """One field per job: when it last ran and how late it started."""
    fields: list[Field] = []
    for run in runs:
        state = "running" if run.finished_at is None else "done"
        fields.append(
            Field(
                f"Job {run.job}",
                f"last run {_ago(run.claimed_at, now)} ago, "
                f"lag {format_duration(run.lag)}, {state}",
                inline=False,
            )
        )
    return fields or [Field("Jobs", "no runs yet", inline=False)]

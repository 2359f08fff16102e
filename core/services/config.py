"""What a deployment configures of the use cases (bot/config.py builds it from the environment)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from core.jobs.webhook_policy import WebhookPolicy
from core.models import WorkspaceSettings


@dataclass(frozen=True, slots=True)
class HistoryConfig:
    """Limits of the history feature."""

    max_message_bytes: int = 64 * 1024
    max_metadata_bytes: int = 16 * 1024
    max_context_bytes: int = 256 * 1024
    page_size: int = 20


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """Defaults from configuration; workspaces override the settings part."""

    defaults: WorkspaceSettings = field(default_factory=WorkspaceSettings)
    admins: frozenset[str] = frozenset()
    max_iterations: int = 100
    default_mode: str = "developer"
    touch_every: timedelta = timedelta(seconds=30)
    webhook_policy: WebhookPolicy = field(default_factory=WebhookPolicy)
    history: HistoryConfig = field(default_factory=HistoryConfig)

"""Slack adapter (§7): slash command, plan buttons, Reject modal, Block Kit and delivery."""

from adapters.slack.adapter import EVENTS_PATH, SlackAdapter
from adapters.slack.blocks import SlackMessage, render
from adapters.slack.delivery import SlackDelivery

__all__ = ["EVENTS_PATH", "SlackAdapter", "SlackDelivery", "SlackMessage", "render"]

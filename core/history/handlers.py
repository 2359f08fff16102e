"""`/session` commands of the history feature: note, history, search, export, context, fork."""

from __future__ import annotations

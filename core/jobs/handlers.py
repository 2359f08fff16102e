"""`/session` commands of the scheduler feature: remind, summary, settings, webhook."""

from __future__ import annotations

"""Conversation history, context, search, export/import and fork (SPEC §5)."""

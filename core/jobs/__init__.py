"""Scheduled job logic (SPEC §9) as functions of (service, now): sweeps, cleanup, summaries."""

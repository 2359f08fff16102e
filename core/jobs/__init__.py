"""Scheduled job logic (SPEC §9) as functions of (services, now): sweeps, cleanup, summaries."""

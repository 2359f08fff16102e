-- Scheduler feature: indexes for the sweep's due queries and for the cascading deletes of
-- cleanup (PostgreSQL, like SQLite, scans a child table on every parent delete unless its
-- foreign key is indexed).

CREATE INDEX jobs_plans_pending_since ON plans (submitted_at) WHERE status = 'pending';
CREATE INDEX jobs_sessions_ended ON sessions (workspace, ended_at)
    WHERE status IN ('completed', 'failed', 'cancelled', 'timed_out', 'abandoned');
CREATE INDEX jobs_sessions_archived ON sessions (workspace, updated_at)
    WHERE status = 'archived';
CREATE INDEX jobs_sessions_by_parent ON sessions (parent_id);
CREATE INDEX jobs_outbox_by_session ON outbox (session_id);
CREATE INDEX jobs_outbox_webhooks_due ON outbox (next_attempt_at)
    WHERE status = 'pending' AND kind = 'webhook';
CREATE INDEX jobs_modifications_by_session ON plan_modifications (session_id);
CREATE INDEX jobs_reminders_by_session ON reminders (session_id);
CREATE INDEX jobs_job_runs_by_time ON job_runs (claimed_at);
-- PostgreSQL only: the plans and revisions of a session are found through their foreign key.
CREATE INDEX jobs_plans_by_session ON plans (session_id);

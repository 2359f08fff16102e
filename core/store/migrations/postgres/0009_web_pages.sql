-- The web inbox's pages in bounded time with 100,000 sessions (issue 17, bench/web_bench.py).
--
-- The Stats page reads the last 30 days of one workspace: sessions by the day they started
-- (covering what it counts, so no session row is read) and by the day they ended, plans and
-- requests by when a person decided them, requests by when they were created. The inbox reads
-- the pending requests oldest first (pending plans have jobs_plans_pending_since). The queries
-- start from these indexes, then look each row's workspace up by its session's key
-- (sessions_workspace_of: from the index alone, without reading the session's row).
CREATE INDEX sessions_by_created ON sessions
    (workspace, created_at, status, mode, outcome, iterations, ended_at);
CREATE INDEX sessions_by_ended ON sessions (workspace, ended_at, outcome);
CREATE INDEX plans_by_decision ON plans (decided_at, submitted_at, session_id, decided_by);
CREATE INDEX sessions_workspace_of ON sessions (id, workspace);
CREATE INDEX requests_pending_since ON requests (created_at) WHERE status = 'pending';
CREATE INDEX requests_by_created ON requests (created_at);
CREATE INDEX requests_by_decision ON requests (decided_at) WHERE status <> 'pending';

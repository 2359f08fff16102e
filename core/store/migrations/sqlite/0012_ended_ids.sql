-- The Stats page (issue 17) keeps each finished day's figures, and which sessions ended on
-- that day (a session that opens again leaves it): read from this index alone, with the ids.
DROP INDEX sessions_by_ended;
CREATE INDEX sessions_by_ended ON sessions (workspace, ended_at, outcome, id);

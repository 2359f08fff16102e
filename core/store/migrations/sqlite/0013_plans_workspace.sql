-- The Stats page (issue 17): the plans decided in a window of one workspace, read from one
-- index (`plans_decided_in`) without looking up each plan's session. `session_workspace` is
-- derived: a trigger copies it from the session when a plan is inserted (a session never
-- changes workspace), the code never writes it, and a copy or an export leaves it out. Plans
-- already stored get theirs here.
ALTER TABLE plans ADD COLUMN session_workspace TEXT;
UPDATE plans SET session_workspace = (SELECT workspace FROM sessions WHERE id = plans.session_id);
CREATE TRIGGER plans_session_workspace AFTER INSERT ON plans FOR EACH ROW BEGIN
    UPDATE plans SET session_workspace = (SELECT workspace FROM sessions WHERE id = NEW.session_id)
        WHERE rowid = NEW.rowid;
END;
CREATE INDEX plans_decided_in ON plans (session_workspace, decided_at, submitted_at, decided_by);

-- The Stats page (issue 17): the plans decided in a window of one workspace, read from one
-- index (`plans_decided_in`) without looking up each plan's session. `session_workspace` is
-- derived: a trigger copies it from the session when a plan is inserted (a session never
-- changes workspace), the code never writes it, and a copy or an export leaves it out. Plans
-- already stored get theirs here.
ALTER TABLE plans ADD COLUMN session_workspace text COLLATE "C";
UPDATE plans p SET session_workspace = s.workspace FROM sessions s WHERE s.id = p.session_id;

CREATE FUNCTION plans_session_workspace() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.session_workspace := (SELECT workspace FROM sessions WHERE id = NEW.session_id);
    RETURN NEW;
END
$$;
CREATE TRIGGER plans_session_workspace BEFORE INSERT ON plans
    FOR EACH ROW EXECUTE FUNCTION plans_session_workspace();

CREATE INDEX plans_decided_in ON plans (session_workspace, decided_at, submitted_at, decided_by);

-- Search at 100,000 sessions: each message keeps its session's workspace beside its search
-- vector, so a workspace-wide search finds the newest matches by walking that workspace's live
-- messages newest first (`messages_search_newest`), without looking up each match's session.
-- And the GIN index takes new messages at once (`fastupdate = off`) instead of in a pending
-- list that every search reads through until a vacuum merges it (up to 4 MB: ~5 ms a search
-- after a burst of messages), so a rare word costs one look in the index.
--
-- `search_workspace` is derived, like `search`: a trigger copies it from the session when a
-- message is inserted (or moved, which the code never does; a session never changes
-- workspace), the code never writes it, and a copy or an export leaves it out. Messages
-- already stored get theirs here.
ALTER TABLE messages ADD COLUMN search_workspace text COLLATE "C";
UPDATE messages m SET search_workspace = s.workspace FROM sessions s WHERE s.id = m.session_id;

CREATE FUNCTION messages_search_workspace() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_workspace := (SELECT workspace FROM sessions WHERE id = NEW.session_id);
    RETURN NEW;
END
$$;
CREATE TRIGGER messages_search_workspace BEFORE INSERT OR UPDATE OF session_id ON messages
    FOR EACH ROW EXECUTE FUNCTION messages_search_workspace();

CREATE INDEX messages_search_newest ON messages (search_workspace, message_no)
    WHERE search IS NOT NULL;

ALTER INDEX messages_search SET (fastupdate = off);
SELECT gin_clean_pending_list('messages_search');

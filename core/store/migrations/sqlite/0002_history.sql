-- sessionbot schema v2: conversation history (messages, revisions, FTS5 index) and context TTLs.

-- Keyed by an integer (the FTS rowid); `id` is the message's UUID. A deleted message stays as
-- a tombstone row (content emptied, deleted_at set) so seq stays gap-free and threads hold.
CREATE TABLE messages (
    message_no  INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system', 'tool')),
    author_id   TEXT NOT NULL,
    content     TEXT NOT NULL,
    parent_id   TEXT,
    metadata    TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL,
    edited_at   TEXT,
    deleted_at  TEXT,
    deleted_by  TEXT,
    UNIQUE (session_id, seq)
);
CREATE INDEX messages_by_parent ON messages (parent_id) WHERE parent_id IS NOT NULL;

-- Every earlier text of an edited message, oldest first.
CREATE TABLE message_revisions (
    message_id  TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    revision    INTEGER NOT NULL,
    content     TEXT NOT NULL,
    written_at  TEXT NOT NULL,
    replaced_at TEXT NOT NULL,
    replaced_by TEXT NOT NULL,
    PRIMARY KEY (message_id, revision)
);

-- Full-text index over the live text of messages, kept in step by triggers in the same
-- transaction as every insert, edit, delete (and cascade delete of a session).
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    content,
    content = 'messages',
    content_rowid = 'message_no',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.deleted_at IS NULL BEGIN
    INSERT INTO messages_fts (rowid, content) VALUES (new.message_no, new.content);
END;

CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN old.deleted_at IS NULL BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content)
        VALUES ('delete', old.message_no, old.content);
END;

CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, deleted_at ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content)
        SELECT 'delete', old.message_no, old.content WHERE old.deleted_at IS NULL;
    INSERT INTO messages_fts (rowid, content)
        SELECT new.message_no, new.content WHERE new.deleted_at IS NULL;
END;

-- When each top-level context key with a TTL expires (keys without a TTL have no row).
CREATE TABLE context_expiry (
    session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    PRIMARY KEY (session_id, key)
);
CREATE INDEX context_expiry_due ON context_expiry (expires_at);

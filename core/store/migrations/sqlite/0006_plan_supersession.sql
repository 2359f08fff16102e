-- Who superseded a plan and when: the submitter of the next version, at its submission.
-- A superseded plan keeps its own decision (decided_by, decided_at, decision_reason), so the
-- audit trail never credits the supersession to the person who decided the older version.
ALTER TABLE plans ADD COLUMN superseded_by TEXT;
ALTER TABLE plans ADD COLUMN superseded_at TEXT;
UPDATE plans SET
    superseded_by = (SELECT n.submitted_by FROM plans n WHERE n.session_id = plans.session_id
                     AND n.version > plans.version ORDER BY n.version LIMIT 1),
    superseded_at = (SELECT n.submitted_at FROM plans n WHERE n.session_id = plans.session_id
                     AND n.version > plans.version ORDER BY n.version LIMIT 1)
WHERE status = 'superseded';

-- Each audit row carries an id made by the API worker, so a batch written again after its
-- connection was lost mid-commit (the commit may have landed) cannot be stored twice.
ALTER TABLE audit_log ADD COLUMN row_id uuid;
CREATE UNIQUE INDEX audit_log_row ON audit_log (row_id);

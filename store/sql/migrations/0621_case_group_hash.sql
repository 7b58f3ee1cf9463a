-- Relinking a case that changed (issue 28): each group row keeps the record_hash the linker
-- saw, so a case whose record changed since it was linked is found by comparing hashes (a
-- timestamp would miss an update committed while a link run was reading).
ALTER TABLE case_groups ADD COLUMN IF NOT EXISTS linked_hash text;
UPDATE case_groups g SET linked_hash = c.record_hash FROM cases c
WHERE c.case_id = g.case_id AND g.linked_hash IS NULL;

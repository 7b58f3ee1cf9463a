-- The raw landing keeps each record's JSON as it was written, in json rather than jsonb:
-- the text is stored as read (key order and all) after a syntax check, where jsonb parsed
-- every record into its binary form (about a fifth of the landing insert's time) and
-- turned it back into text when a run was read back.
ALTER TABLE raw_records ALTER COLUMN payload TYPE json USING payload::json;

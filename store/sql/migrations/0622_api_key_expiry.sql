-- Keys that expire (issue 30): a key past expires_at answers 401 "key expired"; NULL never expires.
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS expires_at timestamptz;

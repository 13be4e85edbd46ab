-- A hostile record must not fill the quarantine (issue 17, decision 21): `payload` keeps at most
-- 64 KiB; the whole record as read is described by its length and SHA-256.
ALTER TABLE etl_rejected_event ADD COLUMN payload_bytes BIGINT;
ALTER TABLE etl_rejected_event ADD COLUMN payload_sha256 VARCHAR;
-- payload holds only the record's start: it cannot be replayed (the record must be read again from its source).
ALTER TABLE etl_rejected_event ADD COLUMN payload_truncated BOOLEAN;

-- Rows quarantined before kept whole payloads, but for records over source.max_record_bytes (their first
-- 1 KiB, size unknown here) and lines not UTF-8 (shown with U+FFFD, so not their bytes).
UPDATE etl_rejected_event SET payload_truncated = coalesce(reasons->>'$[0].message' LIKE 'record larger than%', false);
UPDATE etl_rejected_event SET payload_bytes = strlen(payload), payload_sha256 = sha256(payload)
WHERE NOT payload_truncated AND coalesce(reasons->>'$[0].message' NOT LIKE 'not valid UTF-8%', true);

-- Each version's compiled catalog, in the catalog cache file's binary form (pricing/cache_file.py):
-- the operator and `estimate --database-url` cold-load one value instead of rebuilding the catalog
-- from a hundred thousand rows. Written by `pricing load` in the transaction that makes the version
-- current, so a current version written by this build always has its blob, and no blob exists for a
-- partial version. Versions made current before this migration have none: readers build from rows.
-- Removed with its version (prune deletes the version row).

CREATE TABLE ccg_catalog_blob (
    version_id bigint PRIMARY KEY REFERENCES ccg_pricing_version (id) ON DELETE CASCADE,
    -- "<magic>/<format>/marshal <n>": a reader of another build skips a blob it cannot decode.
    format     text NOT NULL,
    sha256     text NOT NULL,
    size       bigint NOT NULL,
    bytes      bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The blob is already compact (a string table, numbered rows): stored out of line, uncompressed, so
-- that reading it in slices (substring) costs no decompression from the start for every slice.
ALTER TABLE ccg_catalog_blob ALTER COLUMN bytes SET STORAGE EXTERNAL;

CREATE TRIGGER ccg_catalog_blob_immutable BEFORE UPDATE ON ccg_catalog_blob
    FOR EACH ROW EXECUTE FUNCTION ccg_reject_update();

-- Pricing versions: each load of AWS offer files becomes one immutable version; one row says which is
-- current. Products and prices are partitioned by version: a load COPYs into its own, still detached,
-- tables (fast: no index maintenance while loading), and the switch attaches them (indexes are built
-- then) in the same transaction that moves "current". Pruning a version drops its two tables.

CREATE TABLE ccg_pricing_version (
    id               bigserial PRIMARY KEY,
    state            text NOT NULL DEFAULT 'loading' CHECK (state IN ('loading', 'ready', 'failed')),
    source           text NOT NULL,
    publication_date timestamptz,
    digest           text,
    product_count    bigint NOT NULL DEFAULT 0,
    price_count      bigint NOT NULL DEFAULT 0,
    -- One object per offer file: source, offerCode, version, publicationDate, digest, row counts.
    files            jsonb NOT NULL DEFAULT '[]',
    -- Rows per service: {"AmazonEC2": {"products": n, "prices": n}, ...}.
    counts           jsonb NOT NULL DEFAULT '{}',
    base_version_id  bigint,
    carried_over     jsonb NOT NULL DEFAULT '[]',
    error            text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    ready_at         timestamptz
);

CREATE TABLE ccg_pricing_current (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version_id  bigint NOT NULL REFERENCES ccg_pricing_version (id),
    switched_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ccg_product (
    version_id     bigint NOT NULL,
    sku            text NOT NULL,
    service        text NOT NULL,
    region         text NOT NULL,
    product_family text,
    -- The offer file's attribute names and values, plus productFamily and sku (what lookups match on).
    attributes     jsonb NOT NULL,
    origin         text NOT NULL DEFAULT '',
    confidence     text NOT NULL DEFAULT 'official',
    PRIMARY KEY (version_id, sku)
) PARTITION BY LIST (version_id);

-- The catalog loads a version's rows by service and region; ad-hoc lookups add product family and
-- attribute containment (attributes @> '{"instanceType": "t3.micro"}').
CREATE INDEX ccg_product_lookup ON ccg_product (version_id, service, region, product_family);
CREATE INDEX ccg_product_attributes ON ccg_product USING gin (attributes jsonb_path_ops);

CREATE TABLE ccg_price (
    version_id   bigint NOT NULL,
    sku          text NOT NULL,
    rate_code    text NOT NULL,
    unit         text NOT NULL,
    usd_per_unit numeric NOT NULL,
    tier_start   numeric NOT NULL DEFAULT 0,
    tier_end     numeric,  -- NULL: open-ended ("Inf")
    PRIMARY KEY (version_id, rate_code)
) PARTITION BY LIST (version_id);

CREATE INDEX ccg_price_sku ON ccg_price (version_id, sku);

-- Versions are immutable once loaded: rows are only ever inserted (by a load) or dropped (by prune).
CREATE FUNCTION ccg_reject_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'pricing versions are immutable: % rows cannot be updated', TG_TABLE_NAME;
END
$$;

CREATE TRIGGER ccg_product_immutable BEFORE UPDATE ON ccg_product
    FOR EACH ROW EXECUTE FUNCTION ccg_reject_update();
CREATE TRIGGER ccg_price_immutable BEFORE UPDATE ON ccg_price
    FOR EACH ROW EXECUTE FUNCTION ccg_reject_update();

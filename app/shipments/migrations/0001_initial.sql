-- Shipments, inquiries and API keys.
CREATE TABLE shipments (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tracking_number text NOT NULL UNIQUE,
    origin          text NOT NULL,
    destination     text NOT NULL,
    weight_kg       double precision NOT NULL CHECK (weight_kg > 0 AND weight_kg < 'Infinity'),
    status          text NOT NULL DEFAULT 'created'
                    CHECK (status IN ('created', 'in_transit', 'delivered', 'cancelled')),
    version         integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- Keyset pagination, newest first, optionally filtered by status.
CREATE INDEX shipments_created_idx ON shipments (created_at DESC, id DESC);
CREATE INDEX shipments_status_created_idx ON shipments (status, created_at DESC, id DESC);

CREATE TABLE inquiries (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text NOT NULL,
    email      text NOT NULL,
    message    text NOT NULL,
    client_ip  text,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX inquiries_created_idx ON inquiries (created_at DESC, id DESC);

CREATE TABLE api_keys (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text NOT NULL,
    role       text NOT NULL CHECK (role IN ('reader', 'writer', 'admin')),
    key_hash   text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    revoked_at timestamptz
);

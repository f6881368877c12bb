-- Keys now carry a checksum (shipments/auth.py); the ones made before are "legacy" and can be told
-- apart only here, so `keys list` can show when none is left and ACCEPT_LEGACY_API_KEYS can go false.
ALTER TABLE api_keys ADD COLUMN checksummed boolean NOT NULL DEFAULT false;

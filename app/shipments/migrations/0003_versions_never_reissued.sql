-- A version number is never issued twice, even across a failover to an asynchronous replica
-- (shipments/routes/shipments.py): each primary timeline writes its versions above 2^32 x (timeline - 1),
-- so a version lost with the old primary is never reissued with other data, and an If-Match or a cached
-- copy holding it can only miss. bigint makes room; a table rewrite, once.
ALTER TABLE shipments ALTER COLUMN version TYPE bigint;

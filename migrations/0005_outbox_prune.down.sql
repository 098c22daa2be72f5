-- Pruned rows are not restored (their events are in `events`); the schema is.
CREATE INDEX outbox_pending ON outbox (seq) WHERE published_at IS NULL;

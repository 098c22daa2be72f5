-- The outbox holds a derived event only until it is published: the ledger then deletes the row (the event
-- itself is stored in `events` when the ledger consumes it back), so published rows, kept forever until
-- now, are a second copy of every derived event. Every remaining row is pending, so the partial index on
-- pending rows is the primary key's order again.
DELETE FROM outbox WHERE published_at IS NOT NULL;
DROP INDEX outbox_pending;

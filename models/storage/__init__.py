"""Storage: the schema and migrations, units of work, and the reads and writes of PostgreSQL
that carry the domain's decisions (seats, tickets, the event log and outbox, the ledger store,
idempotency, batches, webhooks, keys, locks, invariant checks)."""

-- agentd: outside a transaction
-- The queues' lease and owner indexes (migrations 1 and 5) go. Every claim changes both
-- columns of every row it takes, so each claimed row paid for two more index entries (a
-- tenth of the claim's time, BenchmarkClaimComplete), and each heartbeat, which changes only
-- lease_until, could not update its rows in place (HOT) because of the lease index. The
-- statements that read by lease or owner go through the token index, which holds every
-- in-progress row, and the in-progress rows are few (one per worker): the rescue and the
-- release of an owner's rows read them in token order, and the rescue's test of a holder's
-- life reads the owners of recent claims once per statement (package queue, holderAlive).
DROP INDEX CONCURRENTLY IF EXISTS ingestqueue_lease_ix;
DROP INDEX CONCURRENTLY IF EXISTS ingestqueue_owner_ix;
DROP INDEX CONCURRENTLY IF EXISTS calcachequeue_lease_ix;
DROP INDEX CONCURRENTLY IF EXISTS calcachequeue_owner_ix;
DROP INDEX CONCURRENTLY IF EXISTS previewqueue_lease_ix;
DROP INDEX CONCURRENTLY IF EXISTS previewqueue_owner_ix;

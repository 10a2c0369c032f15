-- The claims of each queue take turns (package queue, Queue.claim): a claim first locks its
-- queue's turn table in EXCLUSIVE mode, which it holds until it commits (milliseconds).
-- LOCK TABLE waits without a snapshot, so claims waiting their turn do not hold back what
-- index scans may skip and vacuum may remove (a waiting SELECT pg_advisory_xact_lock would:
-- under a fleet, every claim then walked the dead index entries of every row claimed and
-- completed since the oldest waiter began). The tables hold nothing; nothing else locks them.
CREATE TABLE IF NOT EXISTS agentd_claim_turn_ingestqueue ();
CREATE TABLE IF NOT EXISTS agentd_claim_turn_calcachequeue ();
CREATE TABLE IF NOT EXISTS agentd_claim_turn_previewqueue ();

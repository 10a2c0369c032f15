-- The queues' token index holds every row with a claim token (in progress, or failed and
-- named by it for agentctl queue retry) instead of the rows in progress only. The
-- statements that find rows by their tokens (completion, failure, heartbeat, deferral,
-- release) test inprogress IS TRUE, which no index predicate "WHERE inprogress" is proven
-- from: the planner, whose statistics of a queue are those of a moment when nothing was in
-- progress, otherwise read every row in progress through the run-key index and filtered
-- them by token (both indexes looked empty to it, and one scan of an empty index is cheaper
-- than one probe per token): a completion of 64 items cost 2.7 ms with 4,800 rows in
-- progress (a fleet of 600 workers holding 8 each) where the token index takes 0.3 ms
-- (BenchmarkClaimWhileOthersHold). In one transaction: the queue's writes wait for the
-- index to be built (seconds for a million rows).
CREATE UNIQUE INDEX IF NOT EXISTS ingestqueue_token_ix ON ingestqueue (claim_token) WHERE claim_token IS NOT NULL;
DROP INDEX IF EXISTS ingestqueue_token_uq;
CREATE UNIQUE INDEX IF NOT EXISTS calcachequeue_token_ix ON calcachequeue (claim_token) WHERE claim_token IS NOT NULL;
DROP INDEX IF EXISTS calcachequeue_token_uq;
CREATE UNIQUE INDEX IF NOT EXISTS previewqueue_token_ix ON previewqueue (claim_token) WHERE claim_token IS NOT NULL;
DROP INDEX IF EXISTS previewqueue_token_uq;

-- The queues are vacuumed and analyzed after a fixed number of changed rows, not a fraction
-- of the table, and without the cost delay. Each claimed and each completed row leaves a dead
-- entry in the order index and in the run-key index until the table is vacuumed, and the
-- claims step over them: at PostgreSQL's defaults (a fifth of the table) a rebuild of a
-- million files waits for 200,000 dead rows, and a claim on a queue whose newest 190,000
-- rows were taken read 3,400 buffers, 50 ms (its claims' p99 in a fleet of 50 × 12 grew with
-- the length of the run: 0.75-1.35 s at 200,000 items, 224 ms with the vacuum keeping up:
-- docs/benchmarks.md). Analyzed as often, the planner's statistics of a queue are less stale.
-- How often autovacuum looks at all is the server's autovacuum_naptime (a minute by
-- default; the coordinator of a fleet wants a few seconds: README.md).
ALTER TABLE ingestqueue SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000,
    autovacuum_vacuum_cost_delay = 0, autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 5000);
ALTER TABLE calcachequeue SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000,
    autovacuum_vacuum_cost_delay = 0, autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 5000);
ALTER TABLE previewqueue SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000,
    autovacuum_vacuum_cost_delay = 0, autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 5000);

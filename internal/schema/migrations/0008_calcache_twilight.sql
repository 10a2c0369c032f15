-- agentd: outside a transaction
-- The calibration cache's search for twilight flats (GMOS imaging; package calcache): they are
-- raw OBJECT frames of class dayCal, which the raw index of migration 7 files among all the
-- night's science frames, so an image whose twilight flat does not exist read every science
-- frame of the year around it. This partial index holds the twilights alone.
CREATE INDEX CONCURRENTLY IF NOT EXISTS header_calcache_twilight_ix ON header (instrument, ut_datetime_secs)
    WHERE reduction = 'RAW' AND observation_type = 'OBJECT' AND observation_class = 'dayCal' AND object = 'Twilight';
-- calcache_obs_ix (obs_hid, caltype, rank), agentd's since migration 1, has been the twin of
-- migration 6's unique constraint on the same columns, which serves the same lookups: every
-- cache row paid for two identical index entries.
DROP INDEX CONCURRENTLY IF EXISTS calcache_obs_ix;
-- calcache_cal_ix (cal_hid), agentd's since migration 1, is read by nothing of agentd's and is
-- FitsStorage's ix_calcache_cal_hid under another name, which agentctl db index builds (the
-- last step of a rebuild). Kept during a rebuild, it took a random-order entry per cache row:
-- once larger than shared_buffers (a million headers: 39 million rows), every insert read
-- and wrote a leaf page of it, and the rebuild slowed threefold.
DROP INDEX CONCURRENTLY IF EXISTS calcache_cal_ix;

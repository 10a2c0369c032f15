-- agentd: outside a transaction
-- The indexes the calibration cache's nearest-in-time search reads (package calcache): raw
-- candidates by instrument, observation type and time; processed ones by instrument,
-- reduction state and time. Each is partial, so a header costs one entry in one of them.
-- Built with CREATE INDEX CONCURRENTLY, one at a time, outside a transaction: ingest goes on
-- writing header rows while they build. An interrupted build leaves an invalid index, which
-- agentctl db migrate drops and builds again.
CREATE INDEX CONCURRENTLY IF NOT EXISTS header_calcache_raw_ix ON header (instrument, observation_type, ut_datetime_secs)
    WHERE reduction = 'RAW';
CREATE INDEX CONCURRENTLY IF NOT EXISTS header_calcache_processed_ix ON header (instrument, reduction, ut_datetime_secs)
    WHERE reduction <> 'RAW';

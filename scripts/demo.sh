#!/usr/bin/env bash
# The demo: a real rebuild of a small archive on a private PostgreSQL.
#
# Starts the private cluster (scripts/pg.sh; installs Debian's postgresql when missing),
# builds agentctl and agentd into bin/, creates the database agentd_demo afresh with
# `agentctl db init`, writes a sample storage tree (FITS, .fits.bz2, an obslog, a file that is
# not FITS, names to skip; a NIRI, a GNIRS and an F2 frame), fills the ingest queue, runs agentd
# until the queue is empty, then the calcache and preview queues, builds FitsStorage's search
# indexes (agentctl db index), and prints
# what the database holds. Re-running starts over.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/pg.sh
. scripts/goenv.sh

started=$(date +%s%N)
pg_use

echo "== build" >&2
go build -o bin/agentctl ./agentctl
go build -o bin/agentd ./agentd

work="$pg_dir/demo"
db=agentd_demo
export DATABASE_URL="postgres://postgres@/$db?host=$PGHOST&port=$PGPORT"
export AGENTD_STORAGE_ROOT="$work/storage"
rm -rf "$work"
mkdir -p "$work"

echo "== database $db" >&2
dropdb --if-exists --force "$db" 2>/dev/null
createdb "$db"
bin/agentctl db init

echo "== sample storage tree in $AGENTD_STORAGE_ROOT" >&2
go run ./internal/sample/mksample --nights "${DEMO_NIGHTS:-5}" --infrared "$AGENTD_STORAGE_ROOT"

echo "== enqueue (unconstrained)" >&2
bin/agentctl enqueue ingest

echo "== agentd --queue ingest --workers 3 --empty" >&2
bin/agentd --queue ingest --workers 3 --name demo --empty --fast-rebuild \
	--lock-dir "$work/locks" --state "$work/demo.db" --socket "$work/demo.sock" --log-level warn

echo "== agentd --queue calcache --queue preview --empty (the calibration cache and the previews)" >&2
bin/agentd --queue calcache --queue preview:2 --name demo --empty \
	--lock-dir "$work/locks" --state "$work/demo.db" --socket "$work/demo.sock" --log-level warn

echo "== agentctl db index (FitsStorage's search indexes, now the rebuild is done)" >&2
bin/agentctl db index

echo
echo "== summary"
bin/agentctl queue status
psql -X -q -d "$db" -c "
  SELECT 'file' AS table, count(*) AS rows FROM file
  UNION ALL SELECT 'diskfile', count(*) FROM diskfile
  UNION ALL SELECT 'diskfile (not FITS)', count(*) FROM diskfile WHERE NOT isfits
  UNION ALL SELECT 'header', count(*) FROM header
  UNION ALL SELECT 'calcache', count(*) FROM calcache
  UNION ALL SELECT 'preview', count(*) FROM preview
  UNION ALL SELECT 'calcachequeue', count(*) FROM calcachequeue
  UNION ALL SELECT 'previewqueue', count(*) FROM previewqueue
  UNION ALL SELECT 'ingestqueue', count(*) FROM ingestqueue"
psql -X -q -d "$db" -c "
  SELECT h.instrument, h.observation_type AS obstype, count(*) AS frames, min(h.ut_datetime) AS first, max(h.ut_datetime) AS last
  FROM header h GROUP BY 1, 2 ORDER BY 1, 2"
ms=$((($(date +%s%N) - started) / 1000000))
printf 'files ingested: %s; demo took %d.%03d s\n' \
	"$(psql -X -At -d "$db" -c 'SELECT count(*) FROM diskfile')" $((ms / 1000)) $((ms % 1000))

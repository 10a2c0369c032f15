#!/usr/bin/env bash
# The demo: a real rebuild of a small archive on a private PostgreSQL.
# Starts the cluster (scripts/pg.sh), builds agentctl and agentd into bin/, creates the
# database agentd_demo afresh with `agentctl db init`, and prints what it holds.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/pg.sh
. scripts/goenv.sh

started=$(date +%s%N)
pg_start
eval "$(pg_env)"
export PGHOST PGPORT PGUSER

go build -o bin/agentctl ./agentctl
go build -o bin/agentd ./agentd 2>/dev/null || true

db=agentd_demo
export DATABASE_URL="postgres://postgres@/$db?host=$PGHOST&port=$PGPORT"
dropdb --if-exists --force "$db" 2>/dev/null
createdb "$db"
bin/agentctl db init

echo
echo "== summary"
psql -X -q -d "$db" -c "SELECT relname AS table, n_live_tup AS rows FROM pg_stat_user_tables
  WHERE relname IN ('file','diskfile','header','ingestqueue','calcachequeue') ORDER BY relname"
ms=$((($(date +%s%N) - started) / 1000000))
printf 'demo took %d.%03d s\n' $((ms / 1000)) $((ms % 1000))

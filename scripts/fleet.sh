#!/usr/bin/env bash
# The fleet rehearsal of the queue contract: 6 agentd processes × 3 workers on a fresh tree
# of about 3,000 FITS files (young: most are first deferred), 2 killed with SIGKILL 0.8 s
# after the start and 2 fresh ones started, every core busy; 10 runs in a row by default.
# Each run must end with every file ingested exactly once, no queue row left and every
# agentd exiting 0 by itself. Arguments go to bench/fleet (e.g. --runs 3 --idle).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/pg.sh
. scripts/pg.sh
. scripts/goenv.sh
pg_use
exec go run ./bench/fleet "$@"

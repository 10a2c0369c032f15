#!/usr/bin/env bash
# Runs the whole test suite: starts the private PostgreSQL cluster (scripts/pg.sh, installing
# Debian's postgresql when missing), makes ready the Python that runs FitsStorage's own code
# (scripts/fitsstorage-python.sh), then go vet and go test on every package, then the
# fleet stress test alone (agentd/fleet_test.go).
# Extra arguments go to `go test` (e.g. scripts/test.sh -run TestQueue ./queue/).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/pg.sh
. scripts/pg.sh
. scripts/goenv.sh

pg_use
# systemd-analyze checks the shipped units (systemd/units_test.go); a fresh machine may lack it.
if ! command -v systemd-analyze >/dev/null; then
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get update -q >&2
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends systemd >&2
fi
# Debian's PgBouncer: agentd through a transaction pooler (agentd/pgbouncer_test.go).
if ! command -v pgbouncer >/dev/null && [ ! -x /usr/sbin/pgbouncer ]; then
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends pgbouncer >&2 ||
		{ $sudo apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends pgbouncer >&2; }
fi
# Debian's Python with FitsStorage's dependencies, for internal/fscheck (installed here, before
# the parallel suite, so that no two tests run apt-get at once).
bash scripts/fitsstorage-python.sh >/dev/null

# Databases left behind by an interrupted run.
psql -X -q -At -d postgres -c "SELECT datname FROM pg_database WHERE datname LIKE 'agentd\_test\_%' AND datname NOT LIKE 'agentd\_test\_tmpl\_%'" |
	while read -r db; do dropdb --force --if-exists "$db" 2>/dev/null || true; done

go vet ./...
if [ $# -gt 0 ]; then
	exec go test -count=1 -timeout 30m "$@"
fi
bash scripts/vulncheck.sh
go test -count=1 -timeout 30m ./...
# The fleet stress test (agentd processes killed under CPU load) is timing-heavy: it runs
# alone, after the parallel suite and its qemu tests, with its own time cap.
AGENTD_STRESS=1 go test -count=1 -timeout 10m -run '^TestFleetSurvivesKillsUnderLoad$' -v ./agentd/

#!/usr/bin/env bash
# Private PostgreSQL cluster for the demo and the tests.
#
#   scripts/pg.sh start    install PostgreSQL if missing, start the cluster, print its settings
#   scripts/pg.sh stop     stop it
#   scripts/pg.sh env      print the settings (shell assignments) without starting anything
#
# The cluster lives in ${TMPDIR:-/tmp}/agentd-pg-<hash of this checkout's path>, with its own
# port and unix socket, so several checkouts on one machine never share one. As root it runs as
# the `postgres` user (PostgreSQL refuses root). Sourcing this file defines pg_* functions.
set -euo pipefail

pg_checkout=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
pg_hash=$(printf '%s' "$pg_checkout" | sha256sum | cut -c1-10)
pg_dir="${TMPDIR:-/tmp}/agentd-pg-$pg_hash"
pg_port=$((40000 + 0x${pg_hash:0:6} % 20000))
pg_sock="$pg_dir/sock"

pg_log() { printf 'pg.sh: %s\n' "$*" >&2; }

# pg_bindir finds the newest installed PostgreSQL server binaries.
pg_bindir() {
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	[ -n "$d" ] && [ -x "$d/initdb" ] && printf '%s\n' "$d"
}

pg_install() {
	if pg_bindir >/dev/null; then return 0; fi
	pg_log "PostgreSQL server not found; installing Debian's postgresql package"
	local sudo=
	[ "$(id -u)" = 0 ] || sudo=sudo
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -q >&2
	$sudo apt-get install -y -q postgresql >&2
	pg_bindir >/dev/null || { pg_log "postgresql installed but no initdb found under /usr/lib/postgresql"; exit 1; }
}

# pg_as runs a command as the cluster's owner.
pg_as() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# pg_use starts the cluster and exports its environment into the calling script.
pg_use() {
	pg_start
	eval "$(pg_env)"
	export PGHOST PGPORT PGUSER TEST_DATABASE_URL
}

pg_env() {
	cat <<ENV
PGCLUSTER_DIR='$pg_dir'
PGHOST='$pg_sock'
PGPORT='$pg_port'
PGUSER='postgres'
TEST_DATABASE_URL='postgres://postgres@/postgres?host=$pg_sock&port=$pg_port'
ENV
}

pg_start() {
	pg_install
	local bin
	bin=$(pg_bindir)
	mkdir -p "$pg_dir"
	chmod 0755 "$pg_dir"
	[ "$(id -u)" = 0 ] && chown postgres: "$pg_dir"
	if ! pg_as test -w "$pg_dir"; then
		pg_log "the postgres user cannot write $pg_dir; set TMPDIR to a directory it can reach"
		exit 1
	fi
	if [ ! -f "$pg_dir/data/PG_VERSION" ]; then
		pg_log "creating cluster in $pg_dir (port $pg_port)"
		rm -rf "$pg_dir/data"
		pg_as "$bin/initdb" -D "$pg_dir/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
			-E UTF8 --locale=C.UTF-8 >"$pg_dir/initdb.log" 2>&1 ||
			{ cat "$pg_dir/initdb.log" >&2; exit 1; }
		pg_as mkdir -p "$pg_sock"
		cat >>"$pg_dir/data/postgresql.conf" <<CONF
# agentd test cluster
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$pg_sock'
max_connections = 400
shared_buffers = 256MB
max_wal_size = 2GB
log_min_messages = warning
CONF
	fi
	if ! pg_as "$bin/pg_ctl" -D "$pg_dir/data" status >/dev/null 2>&1; then
		pg_log "starting PostgreSQL $("$bin/postgres" --version | awk '{print $3}') in $pg_dir on port $pg_port"
		pg_as "$bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -t 60 start >/dev/null ||
			{ tail -n 20 "$pg_dir/server.log" >&2; exit 1; }
	fi
	# Settings of the test cluster that tests rely on, applied at every start so that a
	# cluster made by an older checkout gets them too. wal_writer_delay: asynchronous commits
	# reach disk only when someone flushes, so the enqueue test can tell whether enqueue's
	# final flush really waits (the default 200 ms would hide a missing flush).
	# autovacuum_naptime: as on a fleet's coordinator (README.md), so that the queue benches
	# measure claims on a queue that autovacuum keeps up with.
	pg_as "$bin/psql" -X -q -h "$pg_sock" -p "$pg_port" -U postgres -d postgres \
		-c "ALTER SYSTEM SET wal_writer_delay = '10s'" -c "ALTER SYSTEM SET autovacuum_naptime = '1s'" \
		-c "SELECT pg_reload_conf()" >/dev/null ||
		{ pg_log "could not apply the test settings to the cluster in $pg_dir"; exit 1; }
}

pg_stop() {
	local bin
	bin=$(pg_bindir) || return 0
	[ -d "$pg_dir/data" ] || return 0
	pg_as "$bin/pg_ctl" -D "$pg_dir/data" -m fast -w stop >/dev/null 2>&1 || true
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	case "${1:-}" in
	start) pg_start; pg_env ;;
	stop) pg_stop ;;
	env) pg_env ;;
	*) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
	esac
fi

#!/usr/bin/env bash
# fitsstorage-python.sh: make ready the Python that runs FitsStorage's own ORM and query code
# against a database agentd built (internal/fscheck), and print its path on stdout.
#
# FitsStorage's models need SQLAlchemy, psycopg2, numpy, python-dateutil and astropy; all come
# from Debian's packages (python3-*), installed with apt-get when missing. Debian's own
# /usr/bin/python3 is used, never another python3 on PATH, because that is the interpreter
# Debian's packages install into.
#
#   bash scripts/fitsstorage-python.sh     # prints /usr/bin/python3
set -euo pipefail

py=/usr/bin/python3
log() { printf 'fitsstorage-python.sh: %s\n' "$*" >&2; }
have() { [ -x "$py" ] && "$py" -c 'import sqlalchemy, psycopg2, numpy, dateutil, astropy.coordinates' 2>/dev/null; }

if ! have; then
	pkgs=(python3 python3-sqlalchemy python3-psycopg2 python3-numpy python3-dateutil python3-astropy)
	log "installing ${pkgs[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt=(apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends)
	"${apt[@]}" "${pkgs[@]}" >&2 || { apt-get -o DPkg::Lock::Timeout=300 update -q >&2 && "${apt[@]}" "${pkgs[@]}" >&2; }
	have || { log "$py still cannot import SQLAlchemy, psycopg2, numpy, dateutil and astropy"; exit 1; }
fi
printf '%s\n' "$py"

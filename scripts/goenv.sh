# Sourced by the scripts: finds the Go toolchain (a fresh machine has it in /usr/local/go).
if ! command -v go >/dev/null 2>&1; then
	if [ -x /usr/local/go/bin/go ]; then
		export PATH="/usr/local/go/bin:$PATH"
	else
		echo "go not found: install Go 1.26 or newer (https://go.dev/doc/install) into /usr/local/go" >&2
		exit 1
	fi
fi
# go.mod's toolchain line names the Go release the project is built and tested with (the
# one with the standard library's security fixes); an installation that says
# GOTOOLCHAIN=local would ignore it. The go command fetches it through the module proxy.
if [ -z "${GOTOOLCHAIN:-}" ]; then
	export GOTOOLCHAIN=auto
fi

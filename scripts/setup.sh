#!/usr/bin/env bash
# Idempotent set-up of a fresh clone: npm dependencies, PostgreSQL binaries, Chromium (tests), the Temporal CLI.
# `npm run up` and `npm test` both start with it. It installs only what is missing and ends with
# one line saying what it installed ("setup: nothing to install" on a machine that has it all).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=versions.env
. scripts/versions.env

installed=()
log() { echo "[setup] $*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else log "need root to run: $*"; return 1
  fi
}

# 1. npm dependencies: when node_modules is missing or older than the lockfile.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund >&2
  installed+=("npm dependencies")
fi

# 2. PostgreSQL server and client binaries (initdb, pg_ctl, pg_dump, pg_restore, psql) from Debian.
pg_bindir="${PG_BINDIR:-/usr/lib/postgresql/$PG_MAJOR/bin}"
if [ ! -x "$pg_bindir/initdb" ] || [ ! -x "$pg_bindir/pg_dump" ]; then
  if [ -n "${PG_BINDIR:-}" ]; then
    log "PG_BINDIR=$PG_BINDIR has no initdb/pg_dump"; exit 1
  fi
  log "installing PostgreSQL $PG_MAJOR from Debian packages"
  # Our clusters are our own: keep Debian from creating and starting a 'main' cluster on 5432.
  as_root mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" | as_root tee /etc/postgresql-common/createcluster.d/pggit-ops.conf >/dev/null
  as_root apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "postgresql-$PG_MAJOR" "postgresql-client-$PG_MAJOR" >&2
  installed+=("postgresql-$PG_MAJOR")
fi

# 3. Chromium for the dashboard's browser tests (playwright-core drives it; it never downloads one).
if [ -z "${PGGIT_OPS_CHROMIUM:-}" ] && ! command -v chromium >/dev/null; then
  log "installing chromium from Debian packages"
  as_root apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium >&2
  installed+=("chromium")
fi

# 4. Temporal CLI (dev server + UI): TEMPORAL_CLI_PATH, then PATH, then our versioned cache.
if [ -n "${TEMPORAL_CLI_PATH:-}" ]; then
  [ -x "$TEMPORAL_CLI_PATH" ] || { log "TEMPORAL_CLI_PATH=$TEMPORAL_CLI_PATH is not an executable"; exit 1; }
elif ! command -v temporal >/dev/null; then
  result=$(bash scripts/install-temporal.sh)
  case "$result" in
    installed*) installed+=("temporal CLI v$TEMPORAL_CLI_VERSION") ;;
  esac
fi

if [ ${#installed[@]} -eq 0 ]; then
  echo "setup: nothing to install"
else
  echo "setup: installed $(IFS=,; echo "${installed[*]}")"
fi

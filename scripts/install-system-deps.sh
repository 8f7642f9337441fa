#!/usr/bin/env bash
# Installs the Debian packages that the real-client tests, the capture script and
# the docs tests need. Idempotent: packages that are already installed are skipped,
# and nothing touches the network when everything is present.
#
# Usage (as root): scripts/install-system-deps.sh [--no-smoke]
set -euo pipefail

packages=(
  postgresql                       # PostgreSQL 15 server (initdb, postgres, pg_ctl)
  postgresql-client                # psql, pgbench
  pgbouncer
  python3-psycopg                  # psycopg 3, for /usr/bin/python3 only
  python3-asyncpg
  libpostgresql-jdbc-java          # /usr/share/java/postgresql.jar
  openjdk-17-jdk-headless          # `java File.java` needs the compiler module
  golang-go
  golang-github-jackc-pgx-v4-dev   # pgx v4 sources under /usr/share/gocode
  chromium                         # driven by playwright-core in the docs tests
  openssl
)

is_installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == "installed" ]]
}

missing=()
for pkg in "${packages[@]}"; do
  is_installed "$pkg" || missing+=("$pkg")
done

if ((${#missing[@]} > 0)); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-system-deps: missing packages (${missing[*]}), and this is not root" >&2
    exit 1
  fi
  echo "install-system-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
else
  echo "install-system-deps: all ${#packages[@]} packages already installed"
fi

# The Debian postgresql package creates and starts a "main" cluster on port 5432.
# The tests start their own throwaway servers, so a running system cluster is harmless,
# but it is not needed either.

[[ "${1:-}" == "--no-smoke" ]] && exit 0

# One-line smoke check per client: fail loudly here rather than deep inside a test.
failed=0
smoke() {
  local name=$1; shift
  if out=$("$@" 2>&1); then
    echo "  ok   $name"
  else
    echo "  FAIL $name: $out" >&2
    failed=1
  fi
}
echo "install-system-deps: smoke checks"
smoke postgres  /usr/lib/postgresql/15/bin/postgres --version
smoke psql      psql --version
smoke pgbench   pgbench --version
smoke pgbouncer pgbouncer --version
smoke psycopg   /usr/bin/python3 -c 'import psycopg'
smoke asyncpg   /usr/bin/python3 -c 'import asyncpg'
smoke pgjdbc    test -r /usr/share/java/postgresql.jar
smoke java      java -version
smoke go        go version
smoke pgx-v4    test -d /usr/share/gocode/src/github.com/jackc/pgx/v4
smoke chromium  chromium --version
smoke openssl   openssl version
exit $failed

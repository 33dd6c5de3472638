# Sourced by scripts/test-all: a throwaway PostgreSQL for the PostgreSQL
# storage suites, the multi-instance tests and the end-to-end test of two
# servers on one database.
#
# start_test_postgres installs Debian's `postgresql` when its binaries are
# missing, makes a cluster in a fresh temporary directory owned by the
# `postgres` user (the server refuses to run as root; the Debian package
# creates that user), starts it on a free loopback port with its socket in
# that directory and a random password, exports the URL the tests read
# (POCKETBOOK_TEST_DATABASE_URL) and POCKETBOOK_TEST_POSTGRES_REQUIRED=1,
# so a suite that cannot reach it fails rather than skips, and stops and
# deletes it when the calling script exits. PostgreSQL 15 (Debian 12's) is
# the oldest version supported.
#
# Needs: scripts/lib/install.sh sourced first (apt_install, as_root), python3.

PG_OLDEST_MAJOR=15

# The newest installed PostgreSQL's bin directory.
pg_bindir() {
  find /usr/lib/postgresql -maxdepth 3 -path '*/bin/initdb' 2>/dev/null \
    | sort -V | tail -n 1 | xargs -r dirname
}

# Runs a command as the cluster's owner: `postgres` when we are root.
as_pg_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

stop_test_postgres() {
  if [ -n "${PG_TEST_DIR:-}" ] && [ -d "$PG_TEST_DIR" ]; then
    as_pg_owner "$PG_TEST_BIN/pg_ctl" -D "$PG_TEST_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$PG_TEST_DIR"
  fi
}

start_test_postgres() {
  if [ -z "$(pg_bindir)" ]; then
    apt_install postgresql
  fi
  PG_TEST_BIN=$(pg_bindir)
  local major
  major=$("$PG_TEST_BIN/postgres" --version | sed -E 's/[^0-9]*([0-9]+).*/\1/')
  if [ "$major" -lt "$PG_OLDEST_MAJOR" ]; then
    echo "PostgreSQL $major is older than the oldest supported ($PG_OLDEST_MAJOR)" >&2
    exit 1
  fi
  PG_TEST_DIR=$(mktemp -d /tmp/pocketbook-pg.XXXXXX)
  # Stopped on exit, unless the caller has its own exit trap (which must
  # then call stop_test_postgres itself, as scripts/test-all does).
  [ -n "$(trap -p EXIT)" ] || trap stop_test_postgres EXIT
  local password port
  password=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  printf '%s\n' "$password" >"$PG_TEST_DIR/pwfile"
  if [ "$(id -u)" -eq 0 ]; then
    chown -R postgres: "$PG_TEST_DIR"
  fi
  chmod 700 "$PG_TEST_DIR"
  as_pg_owner "$PG_TEST_BIN/initdb" -D "$PG_TEST_DIR/data" -U pocketbook \
    --pwfile="$PG_TEST_DIR/pwfile" --auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  # A throwaway cluster: durability off for speed; room for the parallel
  # tests' pools (each test opens a small pool in its own schema).
  as_pg_owner "$PG_TEST_BIN/pg_ctl" -D "$PG_TEST_DIR/data" -w -l "$PG_TEST_DIR/log" \
    -o "-p $port -k $PG_TEST_DIR -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null
  export POCKETBOOK_TEST_DATABASE_URL="postgres://pocketbook:$password@127.0.0.1:$port/postgres"
  export POCKETBOOK_TEST_POSTGRES_REQUIRED=1
  echo "PostgreSQL $major for the tests on 127.0.0.1:$port (data in $PG_TEST_DIR, removed on exit)"
}

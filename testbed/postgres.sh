#!/usr/bin/env bash
# PostgreSQL for the test bed: Debian's server package (installed when missing, 15 or newer), one cluster with its
# data under $BERTH_CACHE, run in the background on 127.0.0.1 only (no unix socket), password authentication for
# its one superuser `berth`, whose password is made once and kept beside the data. Tests make a database of their
# own per suite. Reused when it already answers. Prints BERTH_TEST_DATABASE_URL=postgres://berth:...@host:port/berth
# and BERTH_POSTGRES_BIN (initdb, pg_ctl, postgres).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

port="${BERTH_POSTGRES_PORT:-55432}"

server_bin() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ "$(basename "$(dirname "$dir")")" -ge "$POSTGRES_MIN_MAJOR" ] && [ -x "$dir/postgres" ] && { echo "$dir"; return; }
  done
}

bin="$(server_bin)"
if [ -z "$bin" ]; then
  apt_install postgresql
  bin="$(server_bin)"
  [ -n "$bin" ] || die "Debian's postgresql package installed no server of version $POSTGRES_MIN_MAJOR or newer"
fi
major="$(basename "$(dirname "$bin")")"
dir="$BERTH_CACHE/postgres-$major"
data="$dir/data"

# The server refuses to run as root, so it runs as the package's `postgres` user, which must be able to reach its
# data under the cache: each directory above it gets search permission (x) for others, never read.
id postgres >/dev/null 2>&1 || die "the postgres user is missing; reinstall Debian's postgresql-$major"
mkdir -p "$dir"
path="$dir"
while [ "$path" != "/" ]; do
  [ "$(stat -c %A "$path" | cut -c10)" = "x" ] || { log "letting the postgres user through $path (o+x)"; chmod o+x "$path"; }
  path="$(dirname "$path")"
done

if [ ! -f "$dir/password" ]; then
  (umask 077 && node -e 'process.stdout.write(require("node:crypto").randomBytes(18).toString("base64url"))' >"$dir/password")
fi
password="$(cat "$dir/password")"

answers() { "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -t 2; }

if answers; then
  log "PostgreSQL at 127.0.0.1:$port answers"
else
  if [ ! -f "$data/PG_VERSION" ]; then
    log "creating a PostgreSQL $major cluster in $data"
    rm -rf "$data" && install -d -o postgres -g postgres -m 700 "$data"
    pwfile="$(mktemp)" && printf '%s\n' "$password" >"$pwfile" && chown postgres "$pwfile"
    runuser -u postgres -- "$bin/initdb" -D "$data" -U berth --pwfile="$pwfile" --auth=scram-sha-256 \
      --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || { rm -f "$pwfile"; tail -n 20 "$dir/initdb.log" >&2; die "initdb failed"; }
    rm -f "$pwfile"
  fi
  install -d -o postgres -g postgres "$dir/log"
  log "starting PostgreSQL $major on 127.0.0.1:$port (log: $dir/log/postgres.log)"
  runuser -u postgres -- "$bin/pg_ctl" -D "$data" -l "$dir/log/postgres.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='' -c max_connections=300" >&2 \
    || { tail -n 20 "$dir/log/postgres.log" >&2; die "PostgreSQL did not start"; }
  answers || die "PostgreSQL started but does not answer on 127.0.0.1:$port"
fi

# The `berth` database the URL names; tests create their own beside it.
PGPASSWORD="$password" psql -h 127.0.0.1 -p "$port" -U berth -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'berth'" | grep -q 1 \
  || PGPASSWORD="$password" psql -h 127.0.0.1 -p "$port" -U berth -d postgres -qc "CREATE DATABASE berth" >&2
echo "BERTH_TEST_DATABASE_URL=postgres://berth:$password@127.0.0.1:$port/berth"
# The server's programs, for a test that needs a PostgreSQL of its own (one it may stop and start).
echo "BERTH_POSTGRES_BIN=$bin"

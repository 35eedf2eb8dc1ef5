# Shell functions for tests that need a running taxii-serve: a throwaway PKI,
# a server configuration with users, start and stop. Source it:
#
#   . tests/taxii/fixture.sh
#   dir=$(mktemp -d)
#   make_pki "$dir"                         # ca.pem, server.pem, server.key
#   write_server_config "$dir" "$serve"     # taxii.toml, alice.pass, seeder.pass
#   start_server "$serve" "$dir/taxii.toml" "$dir" || exit 1   # sets SERVER_URL, SERVER_PID
#   ...
#   stop_server                             # SIGTERM; its status is the server's
#
# Collections of the configuration (API root "api1"):
#   rw  365fed99-08fa-fdcd-a1b3-fb247eb41d01  alice reads and writes
#   ro  91a7b528-80eb-42ed-a74d-c6fbd5a26116  alice reads; seeder writes
#   wo  64993447-4d7e-4f70-b94d-d7f22742ff63  alice writes, never reads
# Everything lives under the directory given; nothing outside it is touched.

FIXTURE_RW_COLLECTION=365fed99-08fa-fdcd-a1b3-fb247eb41d01
FIXTURE_RO_COLLECTION=91a7b528-80eb-42ed-a74d-c6fbd5a26116
FIXTURE_WO_COLLECTION=64993447-4d7e-4f70-b94d-d7f22742ff63
SERVER_PID=
SERVER_URL=

# make_pki DIR: a CA (ca.pem, ca.key) and a server certificate signed by it
# for localhost, 127.0.0.1 and ::1 (server.pem, server.key). EC P-256, one day.
make_pki() {
  local dir=$1
  (
    cd "$dir" || exit 1
    umask 077
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
      -subj "/CN=ctishare test CA" -keyout ca.key -out ca.pem \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null &&
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -subj "/CN=localhost" -keyout server.key -out server.csr 2>/dev/null &&
    printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
      "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
      "extendedKeyUsage=serverAuth" > server.ext &&
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \
      -extfile server.ext -out server.pem 2>/dev/null &&
    rm -f server.csr server.ext ca.srl
  ) || { echo "fixture: make_pki failed in $dir" >&2; return 1; }
}

# fixture_password_hash SERVE PASSWORD: the hash taxii-serve stores for it.
fixture_password_hash() {
  local line
  line=$(printf '%s\n' "$2" | "$1" hash-password) || return 1
  line=$(printf '%s\n' "$line" | grep -v '^[[:space:]]*$' | tail -n 1)
  # Either the bare hash or a whole 'password_hash = "..."' line.
  line=${line#*password_hash*=}
  line=$(printf '%s' "$line" | sed -e 's/^[[:space:]]*"//' -e 's/"[[:space:]]*$//')
  [ -n "$line" ] || return 1
  printf '%s\n' "$line"
}

# write_server_config DIR SERVE: DIR/taxii.toml for the PKI of make_pki, a
# fresh SQLite file, users alice and seeder with random passwords in
# DIR/alice.pass and DIR/seeder.pass (mode 0600).
write_server_config() {
  local dir=$1 serve=$2 user hash
  for user in alice seeder; do
    (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=\n' > "$dir/$user.pass") || return 1
  done
  local alice_hash seeder_hash
  alice_hash=$(fixture_password_hash "$serve" "$(cat "$dir/alice.pass")") || { echo "fixture: hash-password failed" >&2; return 1; }
  seeder_hash=$(fixture_password_hash "$serve" "$(cat "$dir/seeder.pass")") || return 1
  cat > "$dir/taxii.toml" <<TOML
[server]
listen = "127.0.0.1:0"
database = "sqlite:taxii.db"
tls_cert = "server.pem"
tls_key = "server.key"
max_page_size = 1000
max_content_length = 1048576

[[api_root]]
path = "api1"
title = "Test root"

[[api_root.collection]]
id = "$FIXTURE_RW_COLLECTION"
alias = "rw"
title = "read-write"

[[api_root.collection]]
id = "$FIXTURE_RO_COLLECTION"
alias = "ro"
title = "read-only"

[[api_root.collection]]
id = "$FIXTURE_WO_COLLECTION"
alias = "wo"
title = "write-only"

[[user]]
name = "alice"
password_hash = "$alice_hash"
read = ["rw", "ro"]
write = ["rw", "wo"]

[[user]]
name = "seeder"
password_hash = "$seeder_hash"
read = ["ro"]
write = ["ro"]
TOML
}

# start_server SERVE CONFIG DIR: starts taxii-serve on a free loopback port
# (or on $FIXTURE_LISTEN)
# with a fresh database in DIR, waits (30 s at most) until it has written
# its URL to DIR/ready, and sets SERVER_URL and SERVER_PID. Its stderr goes
# to DIR/server.log, shown when it fails to start.
start_server() {
  local serve=$1 config=$2 dir=$3 i
  rm -f "$dir/ready"
  "$serve" --config "$config" --listen "${FIXTURE_LISTEN:-127.0.0.1:0}" --database "sqlite:$dir/taxii.db" \
    --ready-file "$dir/ready" -v 2> "$dir/server.log" &
  SERVER_PID=$!
  for i in $(seq 1 300); do
    if [ -s "$dir/ready" ]; then
      SERVER_URL=$(head -n 1 "$dir/ready")
      [ -n "$SERVER_URL" ] && return 0
    fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      wait "$SERVER_PID"
      echo "fixture: taxii-serve exited with status $? before it was ready:" >&2
      head -c 4000 "$dir/server.log" >&2
      SERVER_PID=
      return 1
    fi
    sleep 0.1
  done
  echo "fixture: taxii-serve was not ready after 30 s:" >&2
  head -c 4000 "$dir/server.log" >&2
  stop_server
  return 1
}

# stop_server: SIGTERM to the server started by start_server, then up to
# 10 s for it to finish (SIGKILL after that). Returns the server's exit
# status (0 for a clean shutdown); 0 when none is running.
stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  local pid=$SERVER_PID i status
  SERVER_PID=
  kill -TERM "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "fixture: taxii-serve ignored SIGTERM for 10 s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid"
  status=$?
  return $status
}

#!/usr/bin/env bash
# The whole bridge on one machine, nothing to sign up for: a Synapse homeserver, sms-bridge,
# and a virtual SMSC (`sms-bridge smsc-sim`) standing in for the phone network.
#
#   scripts/demo.sh          first run: installs Synapse into ./demo (a minute or two) and
#                            builds the bridge; later runs reuse ./demo. Ctrl-C stops all.
#   scripts/demo.sh --modem  the same with a simulated USB modem (`sms-bridge modem-sim`,
#                            AT commands on a pseudo-terminal) instead of the SMSC, in
#                            ./demo-modem.
#   rm -rf demo              to start over (new users, empty databases).
#
# Needs Linux with Python 3 (with its venv module) and Rust; nothing else. Ports, first run
# only: HS_PORT (8008), BRIDGE_PORT (29330), SMPP_PORT (2775), SIM_HTTP_PORT (2776).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
MODE=smpp
if [ "${1:-}" = "--modem" ]; then
    MODE=modem
fi
DEMO=$ROOT/demo
[ "$MODE" = modem ] && DEMO=$ROOT/demo-modem
VENV=$DEMO/venv
HS_DIR=$DEMO/synapse
BRIDGE_DIR=$DEMO/bridge
BIN=$ROOT/target/release/sms-bridge
NUMBER=+15550001111
PHONE=+15551234567

say() { printf '\033[1mdemo:\033[0m %s\n' "$*"; }
die() {
    printf '\033[1;31mdemo:\033[0m %s\n' "$*" >&2
    exit 1
}

command -v python3 >/dev/null || die "python3 is needed (e.g. apt install python3 python3-venv)"
command -v cargo >/dev/null || die "cargo is needed: https://rustup.rs"
SYNAPSE_VERSION=$(sed -n 's/^pub const SYNAPSE_VERSION: &str = "\(.*\)";/\1/p' tests/common/synapse.rs)
[ -n "$SYNAPSE_VERSION" ] || die "cannot find SYNAPSE_VERSION in tests/common/synapse.rs"
mkdir -p "$DEMO" "$HS_DIR" "$BRIDGE_DIR"

# Settings chosen on the first run and kept, so a re-run finds the same users and rooms.
if [ ! -f "$DEMO/settings.env" ]; then
    secret() { python3 -c 'import secrets; print(secrets.token_hex(16))'; }
    cat >"$DEMO/settings.env" <<EOF
HS_PORT=${HS_PORT:-8008}
BRIDGE_PORT=${BRIDGE_PORT:-29330}
SMPP_PORT=${SMPP_PORT:-2775}
SIM_HTTP_PORT=${SIM_HTTP_PORT:-2776}
SHARED_SECRET=$(secret)
MACAROON_SECRET=$(secret)
FORM_SECRET=$(secret)
ALICE_PASSWORD=$(python3 -c 'import secrets; print(secrets.token_hex(6))')
SMPP_PASSWORD=$(python3 -c 'import secrets; print(secrets.token_hex(4))')
EOF
fi
# shellcheck source=/dev/null
. "$DEMO/settings.env"
HS_URL=http://127.0.0.1:$HS_PORT

# Refuse early if something (an earlier demo?) holds a port.
python3 - "$HS_PORT" "$BRIDGE_PORT" "$SMPP_PORT" "$SIM_HTTP_PORT" <<'EOF' || die "stop what uses that port (another demo?), or rm -rf demo and set HS_PORT=… etc."
import socket, sys
for port in map(int, sys.argv[1:]):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
    except OSError as e:
        sys.exit(f"demo: port {port} is in use ({e.strerror})")
    finally:
        s.close()
EOF

# 1. Synapse, from PyPI, into a virtualenv under ./demo.
if [ ! -f "$VENV/.installed-$SYNAPSE_VERSION" ]; then
    say "installing Synapse $SYNAPSE_VERSION from PyPI into demo/venv (once; about a minute)…"
    rm -rf "$VENV"
    python3 -m venv "$VENV" || die "python3 -m venv failed: install the venv module (e.g. apt install python3-venv)"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-input "matrix-synapse==$SYNAPSE_VERSION"
    touch "$VENV/.installed-$SYNAPSE_VERSION"
fi

# 2. The bridge.
say "building sms-bridge (cargo build --release; the first build takes a few minutes)…"
cargo build --release --quiet

# 3. The bridge's config: the homeserver, alice as admin, one link to the simulator.
backend_section() {
    if [ "$MODE" = modem ]; then
        cat <<EOF
  # The simulated modem started by the demo (sms-bridge modem-sim); a real one would be
  # a /dev/serial/by-id/... path.
  - id: sim
    type: modem
    number: "$NUMBER"
    device: $DEMO/modem
    poll_interval: 10
    reconnect_min_delay: 1
    reconnect_max_delay: 5
EOF
    else
        cat <<EOF
  # The virtual SMSC started by the demo (sms-bridge smsc-sim).
  - id: sim
    type: smpp
    number: "$NUMBER"
    host: 127.0.0.1
    port: $SMPP_PORT
    system_id: demo
    password: $SMPP_PASSWORD
    reconnect_min_delay: 1
    reconnect_max_delay: 5
EOF
    fi
}
if [ ! -f "$BRIDGE_DIR/config.yaml" ]; then
    cat >"$BRIDGE_DIR/config.yaml" <<EOF
# sms-bridge config written by scripts/demo.sh; every key not here has its default
# (see config.example.yaml).
homeserver:
  address: $HS_URL
  domain: localhost

appservice:
  address: http://127.0.0.1:$BRIDGE_PORT
  hostname: 127.0.0.1
  port: $BRIDGE_PORT
  as_token: generate
  hs_token: generate

database:
  path: $BRIDGE_DIR/sms-bridge.db

bridge:
  permissions:
    "*": none
    "localhost": user
    "@alice:localhost": admin

backends:
$(backend_section)

logging:
  level: info
EOF
    "$BIN" -g -c "$BRIDGE_DIR/config.yaml" -r "$BRIDGE_DIR/registration.yaml"
fi

# 4. Synapse's config (rewritten each run; the secrets and the database stay).
if [ ! -f "$HS_DIR/signing.key" ]; then
    "$VENV/bin/generate_signing_key" -o "$HS_DIR/signing.key"
fi
cat >"$HS_DIR/homeserver.yaml" <<EOF
# Written by scripts/demo.sh: a loopback-only homeserver for the demo.
server_name: localhost
public_baseurl: $HS_URL/
pid_file: $HS_DIR/homeserver.pid
report_stats: false
listeners:
  - port: $HS_PORT
    type: http
    tls: false
    x_forwarded: false
    bind_addresses: ["127.0.0.1"]
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: $HS_DIR/homeserver.db
media_store_path: $HS_DIR/media_store
signing_key_path: $HS_DIR/signing.key
registration_shared_secret: "$SHARED_SECRET"
macaroon_secret_key: "$MACAROON_SECRET"
form_secret: "$FORM_SECRET"
trusted_key_servers: []
suppress_key_server_warning: true
enable_metrics: false
app_service_config_files:
  - $BRIDGE_DIR/registration.yaml
EOF

# From here on, Ctrl-C (or any failure) stops whatever was started.
PIDS=()
cleanup() {
    trap - EXIT INT TERM
    if [ "${#PIDS[@]}" -gt 0 ]; then
        echo
        say "stopping…"
        kill "${PIDS[@]}" 2>/dev/null || true
        wait "${PIDS[@]}" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits until $2 (a shell condition) holds, up to $3 seconds; $1 names what for.
wait_for() {
    local what=$1 check=$2 deadline=$((SECONDS + $3))
    until eval "$check"; do
        [ $SECONDS -lt "$deadline" ] || die "$what did not come up; see its log: $4"
        sleep 0.3
    done
}
healthy() { python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2)" "$1" 2>/dev/null; }

# 5. The simulator, in this terminal: it shows what the bridge sends and reads the SMS
# you type.
if [ "$MODE" = modem ]; then
    say "starting the simulated modem at $DEMO/modem…"
    "$BIN" modem-sim --link "$DEMO/modem" --http "127.0.0.1:$SIM_HTTP_PORT" --number "$NUMBER" <&0 &
    INJECT=sms
else
    say "starting the virtual SMSC on 127.0.0.1:$SMPP_PORT…"
    "$BIN" smsc-sim --listen "127.0.0.1:$SMPP_PORT" --http "127.0.0.1:$SIM_HTTP_PORT" --system-id demo \
        --password "$SMPP_PASSWORD" --number "$NUMBER" <&0 &
    INJECT=inject
fi
PIDS+=($!)
SIM_PID=$!

# 6. Synapse.
say "starting Synapse on $HS_URL (log: ${HS_DIR#"$ROOT"/}/homeserver.log)…"
(cd "$HS_DIR" && exec env PYTHONUNBUFFERED=1 "$VENV/bin/python" -m synapse.app.homeserver -c homeserver.yaml \
    >>homeserver.log 2>&1 </dev/null) &
PIDS+=($!)
wait_for Synapse "healthy $HS_URL/health" 90 ${HS_DIR#"$ROOT"/}/homeserver.log

if [ ! -f "$DEMO/.alice-registered" ]; then
    "$VENV/bin/register_new_matrix_user" -u alice -p "$ALICE_PASSWORD" -a -c "$HS_DIR/homeserver.yaml" "$HS_URL" \
        >/dev/null
    touch "$DEMO/.alice-registered"
fi

# 7. The bridge.
say "starting sms-bridge (log: ${BRIDGE_DIR#"$ROOT"/}/bridge.log)…"
: >>"$BRIDGE_DIR/bridge.log"
LOG_START=$(wc -c <"$BRIDGE_DIR/bridge.log")
(cd "$BRIDGE_DIR" && exec "$BIN" -c config.yaml >>bridge.log 2>&1 </dev/null) &
PIDS+=($!)
READY="SMPP bound"
[ "$MODE" = modem ] && READY="modem ready"
bound() { tail -c +"$((LOG_START + 1))" "$BRIDGE_DIR/bridge.log" | grep -q "$READY"; }
wait_for "the bridge's $MODE link" bound 60 "$BRIDGE_DIR/bridge.log"

cat <<EOF

────────────────────────────────────────────────────────────────────────────────
 Everything runs. Log in with any Matrix client (Element: "Edit" the homeserver):
     homeserver  $HS_URL
     user        alice
     password    $ALICE_PASSWORD

 1. Start a direct chat with @smsbot:localhost: that is your management room.
 2. Send it:  start $PHONE    — you are invited to a room with that number.
 3. Write in that room: the simulator below shows each SMS as it arrives, and
    its delivery report goes back (Element shows it as read).
 4. Answer "from the phone": type into this terminal
        $PHONE Hello from my phone
    or, from another terminal:
        curl -d '{"from":"$PHONE","text":"Hello"}' http://127.0.0.1:$SIM_HTTP_PORT/$INJECT

 Logs: ${HS_DIR#"$ROOT"/}/homeserver.log, ${BRIDGE_DIR#"$ROOT"/}/bridge.log. Ctrl-C stops everything.
────────────────────────────────────────────────────────────────────────────────

EOF
wait "$SIM_PID"

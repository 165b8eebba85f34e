#!/bin/sh
# Container entry point: everything lives in /data (config, registration, database).
set -e
cd /data

# Started as root (the default), it only picks the user to run as: whoever owns /data, so
# files in a bind-mounted host directory stay the host user's. A root-owned /data (made
# with sudo, or created by Docker for a missing host path) is handed to uid 1337, the
# image's own user. The bridge never runs as root. With --user, /data must be writable.
if [ "$(id -u)" = 0 ]; then
    uid=$(stat -c %u /data) gid=$(stat -c %g /data)
    if [ "$uid" = 0 ]; then
        uid=1337 gid=1337
        chown -R 1337:1337 /data
    fi
    [ "$gid" != 0 ] || gid=1337
    export HOME=/data
    exec setpriv --reuid="$uid" --regid="$gid" --clear-groups -- "$0" "$@"
fi
if [ ! -w /data ]; then
    echo "/data is not writable by uid $(id -u): chown the host directory to that uid, or drop --user." >&2
    exit 1
fi

if [ ! -f config.yaml ]; then
    msg=$(sms-bridge -c config.yaml 2>&1) || true
    [ -f config.yaml ] || { echo "$msg" >&2; exit 1; }
    # Inside a container the bridge must listen on all interfaces, and the homeserver
    # reaches it by container name when both are on one Docker network.
    sed -i 's/^  hostname: 127.0.0.1$/  hostname: 0.0.0.0/; s|^  address: http://localhost:29330$|  address: http://sms-bridge:29330|' config.yaml
    echo "Wrote /data/config.yaml. Edit it (homeserver, appservice.address, bridge.permissions," >&2
    echo "backends), then run this image with -g to write /data/registration.yaml." >&2
    exit 1
fi
if [ "$1" = "-g" ]; then
    exec sms-bridge -g -c config.yaml -r registration.yaml
fi
if [ ! -f registration.yaml ]; then
    echo "No /data/registration.yaml yet: run this image with -g first, then add it to your homeserver." >&2
    exit 1
fi
exec sms-bridge -c config.yaml "$@"

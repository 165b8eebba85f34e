#!/bin/sh
# Container entry point: everything lives in /data (config, registration, database).
set -e
cd /data
if [ ! -f config.yaml ]; then
    sms-bridge -c config.yaml || true
    # Inside a container the bridge must listen on all interfaces.
    sed -i 's/^  hostname: 127.0.0.1$/  hostname: 0.0.0.0/; s|^  address: http://localhost:29330$|  address: http://sms-bridge:29330|' config.yaml
    echo "Wrote /data/config.yaml. Edit it, then run this image with -g to write /data/registration.yaml."
    exit 1
fi
if [ "$1" = "-g" ]; then
    exec sms-bridge -g -c config.yaml -r registration.yaml
fi
if [ ! -f registration.yaml ]; then
    echo "No /data/registration.yaml yet: run this image with -g first, then add it to Synapse."
    exit 1
fi
exec sms-bridge -c config.yaml "$@"

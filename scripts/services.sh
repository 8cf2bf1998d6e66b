#!/usr/bin/env bash
# Starts the local services the test-suite talks to (PostgreSQL, Redis, NATS with JetStream)
# when they are not already running. Used by CI; harmless when they run.
set -uo pipefail
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
up 5432 || pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
up 6379 || redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
up 4222 || start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log || true
for port in 5432 6379 4222; do
  for _ in $(seq 1 50); do up "$port" && break; sleep 0.2; done
done
exit 0

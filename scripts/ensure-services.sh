#!/usr/bin/env bash
# Make sure the local services run; start those that are installed but not running.
#   scripts/ensure-services.sh          what the tests need: RabbitMQ (with its management
#                                       API), PostgreSQL, Redis, poppler-utils
#   scripts/ensure-services.sh broker   only RabbitMQ, when AMQP_URI names this machine
#                                       (what `make run` needs)
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() {
  for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 1; done
  echo "port $1 did not open in 60 s" >&2; return 1
}

# The broker's host and port from AMQP_URI (default: this machine, 5672).
amqp_target() {
  local uri="${AMQP_URI:-amqp://guest:guest@localhost:5672/}"
  local rest="${uri#*://}"; rest="${rest#*@}"; rest="${rest%%/*}"
  local host="${rest%%:*}" port="5672"
  [[ "$rest" == *:* ]] && port="${rest##*:}"
  echo "$host" "$port"
}

ensure_rabbitmq() {
  local host port
  read -r host port < <(amqp_target)
  case "$host" in localhost|127.0.0.1|::1|"") ;; *) return 0 ;; esac  # someone else's broker
  port_open "$port" && return 0
  if ! command -v rabbitmq-server >/dev/null; then
    echo "RabbitMQ is not installed here: install it (apt-get install rabbitmq-server) or" \
         "point AMQP_URI at a running broker." >&2
    return 1
  fi
  echo "starting RabbitMQ"
  rabbitmq-server -detached
  wait_port "$port"
}

if [ "${1:-}" = "broker" ]; then
  ensure_rabbitmq
  exit 0
fi

# The tests read generated PDFs as a person would (pdftotext, pdftoppm).
if ! command -v pdftotext >/dev/null; then
  echo "installing poppler-utils"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null; }
fi
# The web application's browser tests (Playwright drives Debian's Chromium, no download).
if ! command -v chromium >/dev/null; then
  echo "installing chromium"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
fi
ensure_rabbitmq
if ! port_open 15672; then
  echo "enabling the RabbitMQ management plugin"
  rabbitmq-plugins enable rabbitmq_management >/dev/null
  wait_port 15672
fi
if ! port_open 5432; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start
  wait_port 5432
fi
# Shared rate limits across gateway processes are tested against a local Redis.
if ! port_open 6379; then
  echo "starting Redis"
  redis-server --daemonize yes --save "" --appendonly no >/dev/null
  wait_port 6379
fi
# The management API answers a little after its port opens.
for _ in $(seq 1 30); do
  curl -fsS -u guest:guest http://127.0.0.1:15672/api/overview >/dev/null 2>&1 && exit 0
  sleep 1
done
echo "the RabbitMQ management API does not answer on :15672" >&2
exit 1

#!/usr/bin/env bash
# Make sure the local RabbitMQ (with its management API) and PostgreSQL run; start them if not.
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() {
  for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 1; done
  echo "port $1 did not open in 60 s" >&2; return 1
}

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
if ! port_open 5672; then
  echo "starting RabbitMQ"
  rabbitmq-server -detached
  wait_port 5672
fi
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
# The management API answers a little after its port opens.
for _ in $(seq 1 30); do
  curl -fsS -u guest:guest http://127.0.0.1:15672/api/overview >/dev/null 2>&1 && exit 0
  sleep 1
done
echo "the RabbitMQ management API does not answer on :15672" >&2
exit 1

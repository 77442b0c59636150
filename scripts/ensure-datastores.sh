#!/usr/bin/env bash
# Make sure PostgreSQL, Redis and RabbitMQ answer on their local ports; start any installed one that is down.
# Prints exactly what to install when a server is missing, and exits 1.
set -uo pipefail
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() { for _ in $(seq 1 60); do up "$1" && return 0; sleep 1; done; return 1; }
fail=0

if ! up 5432; then
  if command -v pg_ctlcluster >/dev/null; then
    echo "starting PostgreSQL"; pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    wait_for 5432 || { echo "PostgreSQL did not come up on 127.0.0.1:5432"; fail=1; }
  else
    echo "PostgreSQL is not installed: apt-get install -y postgresql (trust auth on 127.0.0.1)"; fail=1
  fi
fi
if ! up 6379; then
  if command -v redis-server >/dev/null; then
    echo "starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
    wait_for 6379 || { echo "Redis did not come up on 127.0.0.1:6379"; fail=1; }
  else
    echo "Redis is not installed: apt-get install -y redis-server"; fail=1
  fi
fi
if ! up 5672; then
  if command -v rabbitmq-server >/dev/null; then
    echo "starting RabbitMQ"; rabbitmq-server -detached || true
    wait_for 5672 || { echo "RabbitMQ did not come up on 127.0.0.1:5672"; fail=1; }
  else
    echo "RabbitMQ is not installed: apt-get install -y rabbitmq-server"; fail=1
  fi
fi
exit $fail

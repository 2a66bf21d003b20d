#!/usr/bin/env bash
# The local AWS emulator (moto server), installed into .venv by the project itself.
#   scripts/moto.sh start   → installs if needed, starts on a free 127.0.0.1 port, prints the endpoint
#   scripts/moto.sh stop    → stops the server this script started (by its recorded PID)
# State lives in .cache/moto.{pid,endpoint,log}. Never left running: callers trap `stop`.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .cache
pidfile=.cache/moto.pid
endpointfile=.cache/moto.endpoint

case "${1:-}" in
  start)
    if [ ! -x .venv/bin/moto_server ]; then
      echo "moto: installing moto[server] into .venv" >&2
      python3 -m venv .venv
      .venv/bin/pip install --quiet --disable-pip-version-check 'moto[server]>=5,<6'
    fi
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      cat "$endpointfile"
      exit 0
    fi
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
    # moto_server.py: moto's own server with S3 Control replies rooted as AWS roots them (see it).
    .venv/bin/python scripts/moto_server.py -H 127.0.0.1 -p "$port" >.cache/moto.log 2>&1 &
    echo $! >"$pidfile"
    endpoint="http://127.0.0.1:$port"
    for _ in $(seq 1 100); do
      if python3 -c "import urllib.request,sys; urllib.request.urlopen('$endpoint/moto-api/', timeout=1)" 2>/dev/null; then
        echo "$endpoint" >"$endpointfile"
        # Step Functions executes state machines only when told to.
        python3 -c "import urllib.request,json; urllib.request.urlopen(urllib.request.Request('$endpoint/moto-api/config', data=json.dumps({'stepfunctions': {'execute_state_machine': True}}).encode(), headers={'Content-Type': 'application/json'}, method='POST'), timeout=5)" || true
        echo "$endpoint"
        exit 0
      fi
      sleep 0.1
    done
    echo "moto: did not start; see .cache/moto.log" >&2
    kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
    exit 1
    ;;
  stop)
    if [ -f "$pidfile" ]; then
      kill "$(cat "$pidfile")" 2>/dev/null || true
      rm -f "$pidfile" "$endpointfile"
    fi
    ;;
  *)
    echo "usage: scripts/moto.sh start|stop" >&2
    exit 1
    ;;
esac

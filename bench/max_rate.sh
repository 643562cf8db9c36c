#!/bin/bash
# The highest clean call rate of siptm (the bench's stateful script, one worker) with the
# shared harness's find_max_rate.sh; a fresh proxy for every trial.
# usage: bench/max_rate.sh [START=300] [COARSE=250] [STEP=100] [SECS=20] [SHARED=../shared]
# env: SIPTM=path/to/siptm (default .venv/bin/siptm), e.g. another venv's interpreter or build
set -u
HERE=$(cd "$(dirname "$0")/.." && pwd)
START=${1:-300}; COARSE=${2:-250}; STEP=${3:-100}; SECS=${4:-20}
SHARED=${5:-$HERE/../shared}
SIPTM=${SIPTM:-$HERE/.venv/bin/siptm}
CFG=$(mktemp -d)/bench.toml
printf 'listen = ["udp:127.0.0.1:5060"]\n[log]\nlevel = "error"\n' > "$CFG"
PIDFILE=$(dirname "$CFG")/siptm.pid
export PROXY_RESTART="
    [ -s '$PIDFILE' ] && kill \$(cat '$PIDFILE') 2>/dev/null
    for _ in \$(seq 50); do ss -lun | grep -q '127.0.0.1:5060 ' || break; sleep 0.1; done
    setsid '$SIPTM' run --config '$CFG' --script '$HERE/bench/scripts/stateful.py' \
        >/dev/null 2>&1 < /dev/null & echo \$! > '$PIDFILE'
    for _ in \$(seq 50); do ss -lun | grep -q '127.0.0.1:5060 ' && break; sleep 0.1; done
    cat '$PIDFILE'"
"$SHARED/bench/find_max_rate.sh" "0" "$START" "$COARSE" "$STEP" "$SECS"
[ -s "$PIDFILE" ] && kill "$(cat "$PIDFILE")" 2>/dev/null

#!/bin/bash
# siptm against Kamailio in one run with the shared SIPp harness (../shared/bench).
# usage: bench/compare.sh [CALLS=5000] [RATE=500] [SHARED=../shared]
# env: ROUNDS=N repeats the three measurements N times, interleaved (a busy box drifts:
#      interleaving spreads the drift over all three), then prints each proxy's median;
#      SIPTM=path/to/siptm runs another venv's siptm (default .venv/bin/siptm).
# Prints the harness CSV line for siptm, Kamailio stateful with TLSF, and Kamailio
# stateful with Debian's default allocator; quote the ratios, not the absolute figures.
set -u
CALLS=${1:-5000}; RATE=${2:-500}; ROUNDS=${ROUNDS:-1}
HERE=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${3:-$HERE/../shared}
SIPTM=${SIPTM:-$HERE/.venv/bin/siptm}
B=$SHARED/bench
TMP=$(mktemp -d)
CFG=$TMP/bench.toml
printf 'listen = ["udp:127.0.0.1:5060"]\n[log]\nlevel = "error"\n' > "$CFG"

wait_port() { for _ in $(seq 50); do ss -lun | grep -q '127.0.0.1:5060 ' && return 0; sleep 0.1; done; return 1; }
free_port() { for _ in $(seq 50); do ss -lun | grep -q '127.0.0.1:5060 ' || return 0; sleep 0.1; done; }

run() {  # name pid
    local name=$1 pid=$2 line
    "$B/verify_path.sh" "/tmp/compare.$name" >/dev/null || echo "# $name: verify_path failed" >&2
    line=$(QUIET=1 "$B/run_anchor.sh" "$pid" "$CALLS" "$RATE" | tail -1)
    echo "$name,$line"
    echo "$line" >> "$TMP/$name.csv"
}

HEADER="calls,failed,proxy_cpu_us_per_call,rate,target_rate,ok,failed_uac,failed_uas,retrans_uac,retrans_uas,deadcall_msgs,outofcall_msgs,cpu_sched,cpu_net_idle,cpu_traffic_only,proxy_cpu_s,idle_pct,avg_cpu_pct,uac_wall_s,sipp_uac_cpu_s,sipp_uas_cpu_s,sipp_cpu_us_per_call,nproc,uac_rc,uas_rc"
echo "proxy,$HEADER"
for _ in $(seq "$ROUNDS"); do
    "$SIPTM" run --config "$CFG" --script "$HERE/bench/scripts/stateful.py" &
    SIPTM=$!; wait_port; run siptm "$SIPTM"; kill "$SIPTM"; wait "$SIPTM" 2>/dev/null; free_port

    if command -v kamailio >/dev/null; then
        K=$("$B/kamailio/start_kamailio.sh" "$B/kamailio/stateful.cfg" 1 /tmp/kam-tlsf -x tlsf -X tlsf)
        run kamailio-tlsf "$K"; kill "$K"; sleep 1; free_port
        K=$("$B/kamailio/start_kamailio.sh" "$B/kamailio/stateful.cfg" 1 /tmp/kam-default)
        run kamailio-default "$K"; kill "$K"; sleep 1; free_port
    else
        echo "# kamailio not installed (apt-get install kamailio)" >&2
    fi
done
if [ "$ROUNDS" -gt 1 ]; then
    for f in "$TMP"/*.csv; do
        { echo "$HEADER"; cat "$f"; } > "$f.h"
        printf '# %-17s ' "$(basename "$f" .csv)"
        "$B/summarize.sh" "$f.h" proxy_cpu_us_per_call
    done
fi
rm -rf "$TMP"

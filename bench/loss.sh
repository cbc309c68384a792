#!/usr/bin/env bash
# bench/loss.sh: the warm scrape with default settings (window: auto, the
# retransmission timeout from measured response times) at 2 % packet loss
# against loss-free, on loopback and through a 5 ms relay; and, in the same
# run, the warm scrape side by side with prometheus-ipmi-exporter (FreeIPMI)
# at 0 and 5 ms. docs/benchmarks.md reports what it prints.
#
#   bench/loss.sh                    # 10 BMCs, ~4 minutes
#   N=10 ROUNDS=10 LOSS=0.02 bench/loss.sh
#
# One ipmi_sim fleet of N BMCs (our ~54-sensor configuration); four
# bench/udpdelay relays in front of it: 0 ms and 5 ms added RTT, each
# without loss and with LOSS (drawn per datagram, each way: an exchange
# fails with about twice that). ipmi_sim has no loss of its own, so the
# loss is the relay's at 0 ms as well.
#
# Loss: one of our exporters, default module (only credentials and the
# collectors); per path scrapeload runs a cold round then ROUNDS warm
# rounds, every BMC once per INTERVAL at its own offset, and reports warm
# p50/p90. Side by side: at 0 and 5 ms, ours (fresh process, the same
# default module) and theirs (fresh process), cold round then WROUNDS warm
# rounds. Results: $OUT/*.json, $OUT/summary.md.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

N=${N:-10}
ROUNDS=${ROUNDS:-10}
WROUNDS=${WROUNDS:-3}
INTERVAL=${INTERVAL:-2s}
LOSS=${LOSS:-0.02}
TIMEOUT=${TIMEOUT:-10s}
OUT=${OUT:-/tmp/ipmi-bench/loss-$(date +%Y%m%d-%H%M%S)}
PORT0=${PORT0:-24100}
PORT0L=${PORT0L:-24300}
PORT5=${PORT5:-24500}
PORT5L=${PORT5L:-24700}
STATS_BASE=${STATS_BASE:-23980}
OURS_ADDR=127.0.0.1:${OURS_PORT:-23992}
THEIRS_ADDR=127.0.0.1:${THEIRS_PORT:-23993}
THEIRS_BIN=${THEIRS_BIN:-/usr/bin/prometheus-ipmi-exporter}
COLLECTORS=${COLLECTORS:-"ipmi, sel, chassis, bmc"} # ipmi_sim has no DCMI
FREEIPMI_CACHE=${FREEIPMI_CACHE:-$(getent passwd "$(id -un)" | cut -d: -f6)/.freeipmi/sdr-cache}
mkdir -p "$OUT"
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "loss: output in $OUT"
build
machine

# Our default module: credentials and collectors, nothing else (window:
# auto, max_window 8, retransmission timeout measured).
cat >"$OUT/ours.yml" <<YML
modules:
  default:
    user: admin
    pass: password
    privilege: admin
    collectors: [$COLLECTORS]
    allowed_targets: [127.0.0.0/8]
YML
cat >"$OUT/theirs.yml" <<YML
modules:
  default:
    user: admin
    pass: password
    privilege: admin
    driver: LAN_2_0
    workaround_flags: [opensesspriv]
    collectors: [$COLLECTORS]
YML
chmod 600 "$OUT/ours.yml" "$OUT/theirs.yml"

spawn fleet "$BIN/ipmisimfleet" -n "$N" -base-port "${SIM_PORT:-0}" -start-timeout 120s
wait_line fleet '^READY' 300
sim_port=$(sed -n 's/^READY.* first_port=\([0-9]*\).*/\1/p' "$OUT/logs/fleet.out")

# relay NAME PORT RTT LOSS STATS_PORT
relay() {
	spawn "relay-$1" "$BIN/udpdelay" -listen "127.0.0.1:$2" -upstream "127.0.0.1:$sim_port" \
		-count "$N" -rtt "$3" -loss "$4" -stats "127.0.0.1:$5"
	wait_line "relay-$1" ready 10
}
relay 0ms "$PORT0" 0 0 $((STATS_BASE))
relay 0ms-loss "$PORT0L" 0 "$LOSS" $((STATS_BASE + 1))
relay 5ms "$PORT5" 5ms 0 $((STATS_BASE + 2))
relay 5ms-loss "$PORT5L" 5ms "$LOSS" $((STATS_BASE + 3))

# load TAG URL PORT STATS_PORT ROUNDS PID [extra...]
load() {
	local tag=$1 url=$2 port=$3 stats=$4 rounds=$5 pid=$6
	shift 6
	echo "  $tag: cold + $rounds warm rounds every $INTERVAL"
	timeout 600 "$BIN/scrapeload" -url "$url/ipmi" -targets "127.0.0.1:$port-$((port + N - 1))" \
		-module default -interval "$INTERVAL" -rounds "$rounds" -timeout "$TIMEOUT" \
		-pid "$pid" -relay-stats "http://127.0.0.1:$stats/stats" -label "$tag" \
		-json "$OUT/$tag.json" "$@" >"$OUT/logs/$tag.md"
}

ours() {
	spawn "exp-ours-$1" "$BIN/ipmi_fleet_exporter" --config.file "$OUT/ours.yml" \
		--web.listen-address "$OURS_ADDR" --log.level warn
	OURS_PID=$LASTPID
	wait_http "http://$OURS_ADDR/metrics" 20
}

echo "loss: ours, default module, $N BMCs, loss $LOSS per datagram each way"
ours loss
load loss-0ms "http://$OURS_ADDR" "$PORT0" $((STATS_BASE)) "$ROUNDS" "$OURS_PID"
load loss-0ms-lossy "http://$OURS_ADDR" "$PORT0L" $((STATS_BASE + 1)) "$ROUNDS" "$OURS_PID"
load loss-5ms "http://$OURS_ADDR" "$PORT5" $((STATS_BASE + 2)) "$ROUNDS" "$OURS_PID"
load loss-5ms-lossy "http://$OURS_ADDR" "$PORT5L" $((STATS_BASE + 3)) "$ROUNDS" "$OURS_PID"
curl -fsS "http://$OURS_ADDR/metrics" >"$OUT/ours-loss-metrics.txt" || true
stop "$OURS_PID"

echo "side by side: ours and theirs, default settings, loss-free"
for rtt in 0ms 5ms; do
	port=$PORT0 stats=$((STATS_BASE))
	[ "$rtt" = 5ms ] && port=$PORT5 stats=$((STATS_BASE + 2))
	ours "$rtt"
	load "ours-$rtt" "http://$OURS_ADDR" "$port" "$stats" "$WROUNDS" "$OURS_PID" \
		-exporter-metrics "http://$OURS_ADDR/metrics"
	curl -fsS "http://$OURS_ADDR/metrics" >"$OUT/ours-$rtt-metrics.txt" || true
	stop "$OURS_PID"
	for p in $(seq "$port" $((port + N - 1))); do
		rm -f "$FREEIPMI_CACHE"/sdr-cache-*."127.0.0.1:$p"
	done
	spawn "exp-theirs-$rtt" "$THEIRS_BIN" --config.file "$OUT/theirs.yml" \
		--web.listen-address "$THEIRS_ADDR" --freeipmi.path /usr/sbin
	pid=$LASTPID
	wait_http "http://$THEIRS_ADDR/metrics" 20
	load "theirs-$rtt" "http://$THEIRS_ADDR" "$port" "$stats" "$WROUNDS" "$pid" -tree
	stop "$pid"
done
echo "loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/machine.txt"

# warm P TAG: the warm phase's latency percentile P (p50, p90) in ms.
warm() { jq -r --arg p "$1_ms" '.phases[] | select(.name == "warm") | .stats[$p] * 10 | round / 10' "$OUT/$2.json"; }
# failed TAG: warm scrapes that were not ok (timeout, HTTP error, a collector down).
failed() { jq -r '.phases[] | select(.name == "warm") | .stats.scrapes - .stats.ok' "$OUT/$1.json"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
{
	echo "# bench/loss.sh: $N ipmi_sim BMCs, loss $LOSS per datagram each way"
	echo
	cat "$OUT/machine.txt"
	echo
	echo "| path | warm p50 ms (loss-free / lossy, ratio) | warm p90 ms (loss-free / lossy, ratio) | failed |"
	echo "|---|---|---|---|"
	for rtt in 0ms 5ms; do
		a50=$(warm p50 "loss-$rtt") b50=$(warm p50 "loss-$rtt-lossy")
		a90=$(warm p90 "loss-$rtt") b90=$(warm p90 "loss-$rtt-lossy")
		echo "| $rtt | $a50 / $b50 ($(ratio "$b50" "$a50")×) | $a90 / $b90 ($(ratio "$b90" "$a90")×) | $(failed "loss-$rtt") / $(failed "loss-$rtt-lossy") |"
	done
	echo
	echo "| RTT | ours warm p50 ms | theirs warm p50 ms | theirs/ours | ours p90 | theirs p90 | failed (ours/theirs) |"
	echo "|---|---|---|---|---|---|---|"
	for rtt in 0ms 5ms; do
		o=$(warm p50 "ours-$rtt") t=$(warm p50 "theirs-$rtt")
		echo "| $rtt | $o | $t | $(ratio "$t" "$o")× | $(warm p90 "ours-$rtt") | $(warm p90 "theirs-$rtt") | $(failed "ours-$rtt") / $(failed "theirs-$rtt") |"
	done
} >"$OUT/summary.md"
cat "$OUT/summary.md"

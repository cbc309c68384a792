#!/usr/bin/env bash
# bench/scale.sh: ipmi_fleet_exporter against 1,000, 5,000 and 10,000
# simulated BMCs (bmcsim, dual-socket-1u profile), each scraped every 60 s
# like Prometheus does, with 0 ms and 5 ms added latency.
#
#   bench/scale.sh                               # sizes 1000 5000 10000, 3 warm rounds
#   SIZES=10000 LATENCIES=0ms ROUNDS=5 bench/scale.sh
#   MODULE_EXTRA='    window: 1' bench/scale.sh   # more module keys (indented four spaces)
#   EXP_ARGS='--scrape.max-in-flight=64' bench/scale.sh   # more exporter flags
#   OVERLAP=0 bench/scale.sh      # warm phase waits for the whole cold round (runs before 2026-12-05)
#
# The 5 ms is bmcsim's own latency fault (every reply sent 5 ms late, by a
# timer), not the udpdelay relay: a relay for 10,000 BMCs would be a third
# busy process with 20,000 sockets on the same two cores. For each size and
# latency: a fresh bmcsim fleet and a fresh exporter; a cold round (every
# BMC's first scrape, spread over one interval like Prometheus' first
# scrapes), then ROUNDS warm rounds. Reported per warm phase: exporter CPU
# in cores (CPU seconds from /proc over wall time), RSS (and per BMC), p50,
# p99, max scrape latency, fraction inside the 10 s timeout, open sockets,
# BMC packets and sessions opened per scrape (bmcsim counters), the load
# generator's and bmcsim's CPU. Results: $OUT/*.json, $OUT/report.md.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

SIZES=${SIZES:-"1000 5000 10000"}
LATENCIES=${LATENCIES:-"0ms 5ms"}
INTERVAL=${INTERVAL:-60s}
ROUNDS=${ROUNDS:-3}
TIMEOUT=${TIMEOUT:-10s}
REPS=${REPS:-1}
OUT=${OUT:-/tmp/ipmi-bench/scale-$(date +%Y%m%d-%H%M%S)}
EXP_ADDR=127.0.0.1:${EXP_PORT:-23992}
CONTROL=127.0.0.1:${CONTROL_PORT:-23993}
mkdir -p "$OUT"
trap cleanup EXIT
trap 'exit 130' INT TERM
# 10,000 BMCs: 10,000 UDP sockets in bmcsim and in the exporter.
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt 12000 ]; then
	echo "scale: open files limit $(ulimit -n) is too low for 10,000 BMCs" >&2
fi

echo "scale: output in $OUT"
build
machine

cat >"$OUT/ours.yml" <<YML
modules:
  default:
    user: admin
    pass: password
    privilege: user
    timeout: 10000
    allowed_targets: [127.0.0.0/8]
${MODULE_EXTRA:-}
YML
chmod 600 "$OUT/ours.yml"

# Warm rounds start on their slots while the cold round's last scrapes
# still run, as Prometheus' do: without it, every slot the cold round's
# tail overran (at 10,000 BMCs on 2 cores, the first ~8 s of the warm
# round: ~1,350 BMCs) started late and all at once.
overlap=(-overlap)
[ "${OVERLAP:-1}" = 0 ] && overlap=()

cpu_of() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat" 2>/dev/null || echo 0; }

for n in $SIZES; do
	for lat in $LATENCIES; do
		for rep in $(seq 1 "$REPS"); do
			tag="n$n-lat$lat-r$rep"
			faults=()
			[ "$lat" != 0ms ] && faults=(--faults "latency=$lat")
			echo "scale: $tag"
			spawn "bmcsim-$tag" "$BIN/bmcsim" --listen 127.0.0.1:0 --count "$n" --profile dual-socket-1u \
				--user admin --password password --control "$CONTROL" "${faults[@]}"
			sim=$LASTPID
			wait_line "bmcsim-$tag" 'ready' 300
			range=$(sed -n 's/.* on 127\.0\.0\.1:\([0-9]*-[0-9]*\) .*/\1/p' "$OUT/logs/bmcsim-$tag.out")
			spawn "exp-$tag" "$BIN/ipmi_fleet_exporter" --config.file "$OUT/ours.yml" \
				--web.listen-address "$EXP_ADDR" --log.level warn ${EXP_ARGS:-}
			exp=$LASTPID
			wait_http "http://$EXP_ADDR/-/ready" 20
			sim_cpu0=$(cpu_of "$sim")
			t0=$(date +%s.%N)
			timeout 3600 "$BIN/scrapeload" -url "http://$EXP_ADDR/ipmi" -targets "127.0.0.1:$range" \
				-module default -interval "$INTERVAL" -rounds "$ROUNDS" -timeout "$TIMEOUT" \
				-pid "$exp" -sample-every 5s -bmcsim-control "http://$CONTROL" \
				-exporter-metrics "http://$EXP_ADDR/metrics" -ping 50 -label "ours-$n-$lat" \
				-meta "kind=scale,n=$n,latency=$lat,rep=$rep" -json "$OUT/$tag.json" "${overlap[@]}" | tee "$OUT/logs/$tag.md"
			t1=$(date +%s.%N)
			sim_cpu1=$(cpu_of "$sim")
			echo "bmcsim $tag: $(echo "$sim_cpu0 $sim_cpu1 $t0 $t1" | awk '{printf "%.3f cores over %.0f s", ($2-$1)/100/($4-$3), $4-$3}')" |
				tee -a "$OUT/bmcsim-cpu.txt"
			stop "$exp"
			stop "$sim"
		done
	done
done
echo "loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/machine.txt"
{
	"$BIN/benchreport" scale "$OUT"
	echo "bmcsim CPU (whole run incl. cold round):"
	sed 's/^/- /' "$OUT/bmcsim-cpu.txt"
} >"$OUT/report.md"
cat "$OUT/report.md"

#!/usr/bin/env bash
# bench/compare.sh: ipmi_fleet_exporter against prometheus-ipmi-exporter
# (FreeIPMI) on fleets of OpenIPMI ipmi_sim BMCs (our ~54-sensor
# configuration), side by side in one run.
#
#   bench/compare.sh                      # sizes 1 50 200, one repetition
#   SIZES="1 50" REPS=3 bench/compare.sh  # repeat for medians
#   SIZES=10 SCENARIOS="0ms:ours:auto 0ms:theirs:default" TPUT_CONCURRENCY=1 bench/compare.sh
#                                         # default settings, one scrape at a time
#
# Per fleet size N: one ipmi_sim fleet; two bench/udpdelay relays in front
# of it (0 ms and 5 ms added RTT) that count the datagrams each exporter
# sends (BMC round trips per scrape, for both exporters alike). For every
# scenario a fresh exporter process is started, so the first scrape of each
# BMC is cold (session, SDR; FreeIPMI gets an empty SDR cache) and its CPU
# and memory are its own:
#   rtt=0ms: ours (window 1) and theirs
#   rtt=5ms: ours with window 1, 4 and 8, and theirs
# (module auto, default settings with window: auto, on request in SCENARIOS)
# (FreeIPMI's SDR cache files for the relay ports are deleted first, so its
# first scrape reads the SDR too.) Each scenario: "spread" = a cold round then ROUNDS warm rounds, every
# BMC scraped once per INTERVAL at its own offset (like Prometheus); at
# 0 ms also "tput" = back-to-back warm rounds at concurrency 4, for CPU
# per 1,000 scrapes with enough samples. Results: $OUT/*.json, the
# report $OUT/report.md (bench/benchreport), logs in $OUT/logs.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

SIZES=${SIZES:-"1 50 200"}
REPS=${REPS:-1}
# RTT:WHO:MODULE, run in this order for each size and repetition.
SCENARIOS=${SCENARIOS:-"0ms:ours:w1 0ms:theirs:default 5ms:ours:w1 5ms:ours:w4 5ms:ours:w8 5ms:theirs:default"}
INTERVAL=${INTERVAL:-10s} # below ipmi_sim's ~30 s session idle timeout
# TPUT_CONCURRENCY=1 scrapes one at a time (CPU per scrape without overlap).
TPUT_CONCURRENCY=${TPUT_CONCURRENCY:-4}
ROUNDS=${ROUNDS:-3}
TIMEOUT=${TIMEOUT:-10s}
OUT=${OUT:-/tmp/ipmi-bench/compare-$(date +%Y%m%d-%H%M%S)}
# Relay ports below the ephemeral range (32768+), so exporters' client
# sockets never take them; the fleet picks its own free range.
RELAY0_PORT=${RELAY0_PORT:-24000}
RELAY5_PORT=${RELAY5_PORT:-26000}
RELAY0_STATS=127.0.0.1:${RELAY0_STATS_PORT:-23998}
RELAY5_STATS=127.0.0.1:${RELAY5_STATS_PORT:-23999}
OURS_ADDR=127.0.0.1:${OURS_PORT:-23990}
THEIRS_ADDR=127.0.0.1:${THEIRS_PORT:-23991}
THEIRS_BIN=${THEIRS_BIN:-/usr/bin/prometheus-ipmi-exporter}
COLLECTORS=${COLLECTORS:-"ipmi, sel, chassis, bmc"} # ipmi_sim has no DCMI
FREEIPMI_CACHE=${FREEIPMI_CACHE:-$(getent passwd "$(id -un)" | cut -d: -f6)/.freeipmi/sdr-cache}
mkdir -p "$OUT"
trap cleanup EXIT
trap 'exit 130' INT TERM
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

echo "compare: output in $OUT"
build
machine

cat >"$OUT/ours.yml" <<YML
modules:
YML
# w1, w4, w8: fixed windows; auto: the default (window: auto), for the
# goals stated with default settings.
for w in 1 4 8 auto; do
	name=w$w
	[ "$w" = auto ] && name=auto
	cat >>"$OUT/ours.yml" <<YML
  $name:
    user: admin
    pass: password
    privilege: admin
    collectors: [$COLLECTORS]
    window: $w
    allowed_targets: [127.0.0.0/8]
YML
done
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

# scenario N RTT WHO MODULE RELAY_PORT STATS_URL REP
scenario() {
	local n=$1 rtt=$2 who=$3 module=$4 port=$5 stats=$6 rep=$7
	local label=$who url pid tree=-tree tag
	[ "$who" = ours ] && label=ours-$module
	tag="n$n-rtt$rtt-$label-r$rep"
	if [ "$who" = ours ]; then
		spawn "exp-$tag" "$BIN/ipmi_fleet_exporter" --config.file "$OUT/ours.yml" \
			--web.listen-address "$OURS_ADDR" --log.level warn
		url=http://$OURS_ADDR
	else
		# Cold means an empty SDR cache: FreeIPMI keeps it in the user's
		# home from the password database (not $HOME), one file per
		# host:port, and reuses it across exporter restarts.
		local p
		for p in $(seq "$port" $((port + n - 1))); do
			rm -f "$FREEIPMI_CACHE"/sdr-cache-*."127.0.0.1:$p"
		done
		spawn "exp-$tag" "$THEIRS_BIN" --config.file "$OUT/theirs.yml" \
			--web.listen-address "$THEIRS_ADDR" --freeipmi.path /usr/sbin
		url=http://$THEIRS_ADDR
	fi
	pid=$LASTPID
	wait_http "$url/metrics" 20
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "exporter $tag exited:" >&2
		tail -5 "$OUT/logs/exp-$tag.err" >&2
		return 1
	fi
	local rounds=$ROUNDS
	# The 200-BMC FreeIPMI runs are slow: keep them bounded.
	if [ "$who" = theirs ] && [ "$n" -ge 200 ]; then rounds=${THEIRS_ROUNDS_200:-1}; fi
	local extra=()
	[ "$who" = ours ] && extra=(-exporter-metrics "$url/metrics")
	echo "  $tag: spread (cold + $rounds warm rounds every $INTERVAL)"
	timeout 900 "$BIN/scrapeload" -url "$url/ipmi" -targets "127.0.0.1:$port-$((port + n - 1))" \
		-module "$module" -interval "$INTERVAL" -rounds "$rounds" -timeout "$TIMEOUT" \
		-pid "$pid" $tree -relay-stats "$stats" -ping 50 "${extra[@]}" -label "$label" \
		-meta "n=$n,rtt=$rtt,who=$who,module=$module,kind=spread,rep=$rep" \
		-json "$OUT/$tag-spread.json" >"$OUT/logs/$tag-spread.md"
	if [ "$rtt" = 0ms ]; then
		local tr
		if [ "$who" = ours ]; then
			tr=$(((600 + n - 1) / n))
		else
			tr=$(((100 + n - 1) / n))
		fi
		echo "  $tag: tput ($tr back-to-back warm rounds, concurrency $TPUT_CONCURRENCY)"
		timeout 900 "$BIN/scrapeload" -url "$url/ipmi" -targets "127.0.0.1:$port-$((port + n - 1))" \
			-module "$module" -skip-cold -interval 0 -rounds "$tr" -concurrency "$TPUT_CONCURRENCY" -timeout "$TIMEOUT" \
			-pid "$pid" $tree -relay-stats "$stats" "${extra[@]}" -label "$label" \
			-meta "n=$n,rtt=$rtt,who=$who,module=$module,kind=tput,rep=$rep" \
			-json "$OUT/$tag-tput.json" >"$OUT/logs/$tag-tput.md"
	fi
	stop "$pid"
}

for n in $SIZES; do
	echo "compare: $n ipmi_sim BMCs"
	spawn "fleet-$n" "$BIN/ipmisimfleet" -n "$n" -base-port "${SIM_PORT:-0}" -start-timeout 120s
	fleet=$LASTPID
	wait_line "fleet-$n" '^READY' 600
	sim_port=$(sed -n 's/^READY.* first_port=\([0-9]*\).*/\1/p' "$OUT/logs/fleet-$n.out")
	spawn "relay0-$n" "$BIN/udpdelay" -listen "127.0.0.1:$RELAY0_PORT" -upstream "127.0.0.1:$sim_port" \
		-count "$n" -rtt 0 -stats "$RELAY0_STATS"
	relay0=$LASTPID
	wait_line "relay0-$n" ready 10
	spawn "relay5-$n" "$BIN/udpdelay" -listen "127.0.0.1:$RELAY5_PORT" -upstream "127.0.0.1:$sim_port" \
		-count "$n" -rtt 5ms -stats "$RELAY5_STATS"
	relay5=$LASTPID
	wait_line "relay5-$n" ready 10
	for rep in $(seq 1 "$REPS"); do
		for sc in $SCENARIOS; do
			IFS=: read -r rtt who module <<<"$sc"
			if [ "$rtt" = 0ms ]; then
				scenario "$n" "$rtt" "$who" "$module" "$RELAY0_PORT" "http://$RELAY0_STATS/stats" "$rep"
			else
				scenario "$n" "$rtt" "$who" "$module" "$RELAY5_PORT" "http://$RELAY5_STATS/stats" "$rep"
			fi
		done
	done
	stop "$relay0"
	stop "$relay5"
	stop "$fleet"
done
echo "loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/machine.txt"
"$BIN/benchreport" compare "$OUT" >"$OUT/report.md"
cat "$OUT/report.md"

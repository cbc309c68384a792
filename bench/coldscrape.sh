#!/usr/bin/env bash
# bench/coldscrape.sh: cold and warm scrapes through the 5 ms UDP delay
# relay, ipmi_fleet_exporter with default settings side by side with the
# FreeIPMI-based prometheus-ipmi-exporter, in one run (about 2 minutes).
#
#   bench/coldscrape.sh             # 4 ipmi_sim BMCs, 10 warm scrapes each
#   N=8 WARM=20 bench/coldscrape.sh
#   OURS_EXTRA="window: 8" bench/coldscrape.sh   # a setting added to our modules
#
# One ipmi_sim fleet (our ~54-sensor configuration) behind bench/udpdelay
# adding 5 ms of round trip; collectors ipmi, sel, chassis and bmc. The
# BMCs are scraped one at a time (curl, time_total), so each figure is one
# scrape's latency, not a throughput:
#   cold:    a fresh exporter process, first scrape of each BMC (login,
#            SDR walk; FreeIPMI's SDR cache files deleted first)
#   warm:    WARM further scrapes of each BMC, round robin
#   restart: the exporter restarted with its SDR cache on disk kept (ours:
#            a module with sdr_cache_dir; FreeIPMI keeps its cache
#            anyway), first scrape of each BMC
# Datagrams through the relay per scrape (requests + replies) and failed
# scrapes (any ipmi_up 0) are counted. Results: $OUT/report.md, raw times
# in $OUT/*.times, logs in $OUT/logs.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

N=${N:-4}
WARM=${WARM:-10}
RTT=${RTT:-5ms}
OUT=${OUT:-/tmp/ipmi-bench/coldscrape-$(date +%Y%m%d-%H%M%S)}
RELAY_PORT=${RELAY_PORT:-24400}
RELAY_STATS=127.0.0.1:${RELAY_STATS_PORT:-24398}
OURS_ADDR=127.0.0.1:${OURS_PORT:-24390}
THEIRS_ADDR=127.0.0.1:${THEIRS_PORT:-24391}
THEIRS_BIN=${THEIRS_BIN:-/usr/bin/prometheus-ipmi-exporter}
COLLECTORS="ipmi, sel, chassis, bmc" # ipmi_sim has no DCMI
OURS_EXTRA=${OURS_EXTRA:-} # e.g. "window: 8"; empty: default settings
FREEIPMI_CACHE=${FREEIPMI_CACHE:-$(getent passwd "$(id -un)" | cut -d: -f6)/.freeipmi/sdr-cache}
mkdir -p "$OUT"
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "coldscrape: output in $OUT"
build
machine

# Default settings: nothing but what a login and the collectors need.
cat >"$OUT/ours.yml" <<YML
modules:
  default:
    user: admin
    pass: password
    privilege: admin
    collectors: [$COLLECTORS]
    allowed_targets: [127.0.0.0/8]
    $OURS_EXTRA
  disk:
    user: admin
    pass: password
    privilege: admin
    collectors: [$COLLECTORS]
    allowed_targets: [127.0.0.0/8]
    sdr_cache_dir: $OUT/sdr-cache
    $OURS_EXTRA
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

relayed() {
	curl -fsS "http://$RELAY_STATS/stats" | sed 's/.*"relayed_in":\([0-9]*\).*"relayed_out":\([0-9]*\).*/\1 \2/' |
		awk '{print $1 + $2}'
}

# scrape URL MODULE TARGET FILE: one scrape; appends "seconds datagrams
# failed" to FILE.
scrape() {
	local url=$1 module=$2 target=$3 file=$4 before after t body
	before=$(relayed)
	body=$OUT/logs/last-scrape.txt
	t=$(curl -sS -o "$body" -w '%{time_total}' --max-time 30 "$url/ipmi?module=$module&target=$target")
	after=$(relayed)
	local failed=0
	if grep -Eq '^ipmi_up\{[^}]*\} 0$' "$body" || ! grep -q '^ipmi_up' "$body"; then
		failed=1
	fi
	echo "$t $((after - before)) $failed" >>"$file"
}

start_ours() {
	spawn "ours-$1" "$BIN/ipmi_fleet_exporter" --config.file "$OUT/ours.yml" \
		--web.listen-address "$OURS_ADDR" --log.level warn
	wait_http "http://$OURS_ADDR/metrics" 20
}

start_theirs() {
	spawn "theirs-$1" "$THEIRS_BIN" --config.file "$OUT/theirs.yml" \
		--web.listen-address "$THEIRS_ADDR" --freeipmi.path /usr/sbin
	wait_http "http://$THEIRS_ADDR/metrics" 20
}

# run WHO URL MODULE PHASE: scrape every BMC once (PHASE), or WARM times.
run() {
	local who=$1 url=$2 module=$3 phase=$4 reps=1 i p
	[ "$phase" = warm ] && reps=$WARM
	for i in $(seq 1 "$reps"); do
		for p in $(seq "$RELAY_PORT" $((RELAY_PORT + N - 1))); do
			scrape "$url" "$module" "127.0.0.1:$p" "$OUT/$who-$phase.times"
		done
	done
}

spawn fleet "$BIN/ipmisimfleet" -n "$N" -base-port "${SIM_PORT:-0}" -start-timeout 120s
wait_line fleet '^READY' 300
sim_port=$(sed -n 's/^READY.* first_port=\([0-9]*\).*/\1/p' "$OUT/logs/fleet.out")
spawn relay "$BIN/udpdelay" -listen "127.0.0.1:$RELAY_PORT" -upstream "127.0.0.1:$sim_port" \
	-count "$N" -rtt "$RTT" -stats "$RELAY_STATS"
wait_line relay ready 10

echo "  ours: cold, warm"
start_ours 1
run ours "http://$OURS_ADDR" default cold
run ours "http://$OURS_ADDR" default warm
curl -fsS "http://$OURS_ADDR/metrics" | grep -E '^ipmi_fleet_exporter_(retransmits_total|sdr_walks_total|sdr_cache_hits_total)' \
	>"$OUT/ours-counters.txt" || true
stop "$LASTPID"

echo "  ours: restart with sdr_cache_dir"
rm -rf "$OUT/sdr-cache"
start_ours 2
run ours "http://$OURS_ADDR" disk fill
stop "$LASTPID"
start_ours 3
run ours "http://$OURS_ADDR" disk restart
stop "$LASTPID"

echo "  theirs: cold, warm, restart"
for p in $(seq "$RELAY_PORT" $((RELAY_PORT + N - 1))); do
	rm -f "$FREEIPMI_CACHE"/sdr-cache-*."127.0.0.1:$p"
done
start_theirs 1
run theirs "http://$THEIRS_ADDR" default cold
run theirs "http://$THEIRS_ADDR" default warm
stop "$LASTPID"
start_theirs 2
run theirs "http://$THEIRS_ADDR" default restart
stop "$LASTPID"

echo "loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/machine.txt"

# median FILE COLUMN
median() {
	awk -v c="$2" '{print $c}' "$1" | sort -g | awk '{a[NR]=$1} END {if (NR == 0) {print "nan"} else if (NR % 2) {print a[(NR+1)/2]} else {print (a[NR/2]+a[NR/2+1])/2}}'
}
failed() { awk '{s += $3} END {print s + 0}' "$1"; }
count() { wc -l <"$1" | tr -d ' '; }

{
	echo "# Cold and warm scrapes through a $RTT relay, $N ipmi_sim BMCs, default settings${OURS_EXTRA:+ (ours with $OURS_EXTRA)}"
	echo
	sed 's/^/    /' "$OUT/machine.txt"
	echo
	echo "| scrape | ours median | theirs median | theirs / ours | datagrams ours | datagrams theirs | failed ours | failed theirs |"
	echo "|---|---|---|---|---|---|---|---|"
	for phase in cold warm restart; do
		o=$OUT/ours-$phase.times th=$OUT/theirs-$phase.times
		mo=$(median "$o" 1) mt=$(median "$th" 1)
		printf '| %s (%s + %s scrapes) | %.3f s | %.3f s | %.1f× | %s | %s | %s | %s |\n' "$phase" "$(count "$o")" "$(count "$th")" \
			"$mo" "$mt" "$(awk -v a="$mt" -v b="$mo" 'BEGIN {print a / b}')" \
			"$(median "$o" 2)" "$(median "$th" 2)" "$(failed "$o")" "$(failed "$th")"
	done
	echo
	echo "ours, restart: the module with sdr_cache_dir, after a process restart (the cache filled by a first process)."
	echo "theirs, restart: FreeIPMI's own SDR cache, kept across the restart."
	echo
	echo "Our exporter's counters after the cold and warm scrapes:"
	echo
	sed 's/^/    /' "$OUT/ours-counters.txt"
} >"$OUT/report.md"
cat "$OUT/report.md"

#!/usr/bin/env bash
# bench/abcpu.sh: CPU per 1,000 warm scrapes of two or more builds of the
# exporter, alternated on one fleet of ipmi_sim BMCs, for judging a change
# to the hot path side by side in one run.
#
#   bench/abcpu.sh HEAD~1 HEAD             # git revisions, built here
#   bench/abcpu.sh ./old-binary HEAD       # or executables
#   N=50 REPS=5 SCRAPES=1000 bench/abcpu.sh ...
#
# One ipmi_sim fleet of N BMCs behind a bench/udpdelay relay (0 ms) that
# counts round trips. Each repetition runs every build once, in the order
# given: a fresh exporter process (module w1: window 1, collectors ipmi,
# sel, chassis, bmc, as bench/compare.sh), one cold round to open the
# sessions, then SCRAPES warm scrapes back to back at concurrency 4
# (bench/scrapeload -interval 0), whose CPU (utime+stime from /proc) is
# the figure. Alternating the builds within one run spreads the machine's
# drift over all of them. Results: $OUT/*.json and the table
# $OUT/report.md (bench/benchreport ab).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

if [ $# -lt 1 ]; then
	echo "usage: bench/abcpu.sh REV|EXECUTABLE..." >&2
	exit 2
fi
N=${N:-50}
REPS=${REPS:-3}
SCRAPES=${SCRAPES:-1000}
OUT=${OUT:-/tmp/ipmi-bench/abcpu-$(date +%Y%m%d-%H%M%S)}
RELAY_PORT=${RELAY_PORT:-24100}
RELAY_STATS=127.0.0.1:${RELAY_STATS_PORT:-24098}
ADDR=127.0.0.1:${EXPORTER_PORT:-24090}
mkdir -p "$OUT"
trap cleanup EXIT
trap 'exit 130' INT TERM
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

echo "abcpu: output in $OUT"
build
machine

# The builds: an executable as given, or a git revision built from a
# temporary worktree.
names=()
bins=()
i=0
for b in "$@"; do
	i=$((i + 1))
	if [ -f "$b" ] && [ -x "$b" ]; then
		names+=("$(basename "$b")")
		bins+=("$(cd "$(dirname "$b")" && pwd)/$(basename "$b")")
		continue
	fi
	rev=$(git rev-parse --short "$b^{commit}")
	wt=$OUT/src-$i
	git worktree add --detach -q "$wt" "$rev"
	(cd "$wt" && go build -o "$BIN/exporter-$i" .)
	git worktree remove --force "$wt"
	if [ "$b" = "$rev" ]; then names+=("$rev"); else names+=("$b ($rev)"); fi
	bins+=("$BIN/exporter-$i")
done

cat >"$OUT/ours.yml" <<YML
modules:
  w1:
    user: admin
    pass: password
    privilege: admin
    collectors: [ipmi, sel, chassis, bmc]
    window: 1
    allowed_targets: [127.0.0.0/8]
YML
chmod 600 "$OUT/ours.yml"

spawn fleet "$BIN/ipmisimfleet" -n "$N" -base-port "${SIM_PORT:-0}" -start-timeout 120s
wait_line fleet '^READY' 600
sim_port=$(sed -n 's/^READY.* first_port=\([0-9]*\).*/\1/p' "$OUT/logs/fleet.out")
spawn relay "$BIN/udpdelay" -listen "127.0.0.1:$RELAY_PORT" -upstream "127.0.0.1:$sim_port" \
	-count "$N" -rtt 0 -stats "$RELAY_STATS"
wait_line relay ready 10
targets="127.0.0.1:$RELAY_PORT-$((RELAY_PORT + N - 1))"
rounds=$(((SCRAPES + N - 1) / N))

for rep in $(seq 1 "$REPS"); do
	for i in "${!bins[@]}"; do
		tag="b$i-r$rep"
		spawn "exp-$tag" "${bins[$i]}" --config.file "$OUT/ours.yml" --web.listen-address "$ADDR" --log.level warn
		pid=$LASTPID
		wait_http "http://$ADDR/metrics" 20
		# Cold round: sessions and SDRs, not measured.
		timeout 600 "$BIN/scrapeload" -url "http://$ADDR/ipmi" -targets "$targets" -module w1 \
			-interval 0 -rounds 0 -concurrency 4 -timeout 10s -pid "$pid" >"$OUT/logs/$tag-cold.md"
		timeout 900 "$BIN/scrapeload" -url "http://$ADDR/ipmi" -targets "$targets" -module w1 -skip-cold \
			-interval 0 -rounds "$rounds" -concurrency 4 -timeout 10s -pid "$pid" \
			-relay-stats "http://$RELAY_STATS/stats" -label "${names[$i]}" \
			-meta "kind=ab,build=${names[$i]},order=$i,rep=$rep,n=$N" \
			-json "$OUT/$tag.json" >"$OUT/logs/$tag.md"
		stop "$pid"
		echo "  rep $rep: ${names[$i]} done"
	done
done
"$BIN/benchreport" ab "$OUT" >"$OUT/report.md"
cat "$OUT/report.md"

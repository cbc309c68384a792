# Shared helpers for bench/*.sh (sourced). Every process started with
# `spawn` runs in its own process group and is killed on exit.
# shellcheck shell=bash

SPAWNED=()
LASTPID=

# spawn NAME CMD...: start CMD in the background in a new process group,
# stdout/stderr to $OUT/logs/NAME.{out,err}; sets LASTPID.
spawn() {
	local name=$1
	shift
	mkdir -p "$OUT/logs"
	setsid "$@" >"$OUT/logs/$name.out" 2>"$OUT/logs/$name.err" </dev/null &
	LASTPID=$!
	SPAWNED+=("$LASTPID")
}

# stop PID: SIGTERM the process group, then SIGKILL after 5 s.
stop() {
	local pid=$1 i
	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL -- "-$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	local pid
	for pid in "${SPAWNED[@]}"; do
		kill -TERM -- "-$pid" 2>/dev/null || true
	done
	sleep 1
	for pid in "${SPAWNED[@]}"; do
		kill -KILL -- "-$pid" 2>/dev/null || true
	done
	wait 2>/dev/null || true
}

# wait_line NAME REGEX SECONDS [PID]: wait until $OUT/logs/NAME.out has a
# line matching REGEX; fail early if PID (default LASTPID) exits.
wait_line() {
	local f="$OUT/logs/$1.out" i pid=${4:-$LASTPID}
	for i in $(seq 1 $(($3 * 10))); do
		if grep -Eq "$2" "$f" 2>/dev/null; then
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "$1 exited before printing '$2':" >&2
			tail -5 "$OUT/logs/$1.err" >&2 || true
			return 1
		fi
		sleep 0.1
	done
	echo "timed out waiting for '$2' in $f" >&2
	tail -5 "$OUT/logs/$1.err" >&2 || true
	return 1
}

# wait_http URL SECONDS: wait until URL answers.
wait_http() {
	local i
	for i in $(seq 1 $(($2 * 10))); do
		if curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	echo "timed out waiting for $1" >&2
	return 1
}

# build: compile everything the benchmarks run into $BIN.
build() {
	BIN=$OUT/bin
	mkdir -p "$BIN"
	go build -o "$BIN/ipmi_fleet_exporter" .
	go build -o "$BIN/ipmisimfleet" ./internal/testbed/cmd/ipmisimfleet
	go build -o "$BIN/bmcsim" ./cmd/bmcsim
	go build -o "$BIN/udpdelay" ./bench/udpdelay/cmd
	go build -o "$BIN/scrapeload" ./bench/scrapeload
	go build -o "$BIN/benchreport" ./bench/benchreport
}

# machine: describe the machine and tools into $OUT/machine.txt.
machine() {
	{
		echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
		echo "nproc: $(nproc)"
		echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
		echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
		echo "kernel: $(uname -r)"
		echo "go: $(go version)"
		echo "git: $(git rev-parse --short HEAD 2>/dev/null)"
		echo "ipmi_sim: $(dpkg-query -W -f '${Version}' openipmi 2>/dev/null)"
		echo "freeipmi: $(dpkg-query -W -f '${Version}' freeipmi-tools 2>/dev/null)"
		echo "prometheus-ipmi-exporter: $(dpkg-query -W -f '${Version}' prometheus-ipmi-exporter 2>/dev/null)"
		echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
		echo "ulimit -n: $(ulimit -n)"
	} >"$OUT/machine.txt"
}

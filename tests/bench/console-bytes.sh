#!/bin/sh
#
# console-bytes.sh - the console's two steady-state costs, measured on the
# real binary in a private tmux server (own socket, killed at the end):
#
#   1. bytes written to the terminal per second with the demo fleet of
#      5,000 nodes (budget: under 20 KB/s, for jump hosts on slow links),
#      taken with `tmux pipe-pane -o 'cat >> FILE'`;
#   2. CPU of the whole process (engine and console) with 100,000 nodes and
#      nobody typing (budget: under 5 % of one core), from utime + stime in
#      /proc/PID/stat, and its RSS (budget: under 250 MB).
#
# Usage: tests/bench/console-bytes.sh [NEXUSCTL]
# Environment: WARMUP (s, default 12: one check interval, so every node has
# a result), SECONDS_MEASURED (default 20), BENCH_COLS x BENCH_LINES (160x48),
# BYTES_NODES (5000), CPU_NODES (100000).
# A benchmark, not a test: it prints figures and exits 0 unless it breaks.
#
set -u

NEXUSCTL=${1:-${NEXUSCTL:-./nexusctl}}
WARMUP=${WARMUP:-12}
DUR=${SECONDS_MEASURED:-20}
COLS=${BENCH_COLS:-160}
ROWS=${BENCH_LINES:-48}
BYTES_NODES=${BYTES_NODES:-5000}
CPU_NODES=${CPU_NODES:-100000}
SOCK=nxbench-$$
OUT=$(mktemp "${TMPDIR:-/tmp}/nx-console-bytes.XXXXXX")

command -v tmux >/dev/null 2>&1 || { echo "tmux not found"; exit 77; }
[ -x "$NEXUSCTL" ] || { echo "no binary at $NEXUSCTL"; exit 1; }
case $NEXUSCTL in /*) ;; *) NEXUSCTL=$PWD/$NEXUSCTL ;; esac

cleanup() {
	tmux -L "$SOCK" kill-server >/dev/null 2>&1
	rm -f "$OUT"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

tm() {
	tmux -L "$SOCK" "$@"
}

# run NODES: the console in a fresh detached pane; waits for its header.
run() {
	tm kill-server >/dev/null 2>&1
	sleep 0.2
	tm -f /dev/null new-session -d -s nx -x "$COLS" -y "$ROWS" \
	    "env TERM=tmux-256color '$NEXUSCTL' --demo=$1" || exit 1
	n=0
	until tm capture-pane -p -t nx | grep -q ' nodes'; do
		n=$((n + 1))
		[ "$n" -lt 300 ] || { echo "console did not start"; exit 1; }
		sleep 0.1
	done
}

# The console's pid: the pane runs env, which execs nexusctl.
pane_pid() {
	tm display -p -t nx '#{pane_pid}'
}

# utime + stime of a process, in clock ticks.
cpu_ticks() {
	awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

echo "console at ${COLS}x${ROWS}, TERM=tmux-256color, warm-up ${WARMUP} s, measured ${DUR} s"

run "$BYTES_NODES"
sleep "$WARMUP"
: >"$OUT"
tm pipe-pane -o -t nx "cat >> '$OUT'"
sleep "$DUR"
tm pipe-pane -t nx
sleep 0.2
BYTES=$(wc -c <"$OUT")
awk -v b="$BYTES" -v d="$DUR" -v n="$BYTES_NODES" 'BEGIN {
	printf "terminal output, %d nodes: %d bytes in %d s = %.2f KB/s (budget 20 KB/s)\n",
	    n, b, d, b / d / 1024 }'

run "$CPU_NODES"
PID=$(pane_pid)
[ "$(cat "/proc/$PID/comm")" = nexusctl ] || { echo "pane pid is not nexusctl"; exit 1; }
sleep "$WARMUP"
T0=$(cpu_ticks "$PID")
sleep "$DUR"
T1=$(cpu_ticks "$PID")
HZ=$(getconf CLK_TCK)
RSS=$(awk '/^VmRSS/ { print $2 }' "/proc/$PID/status")
awk -v t="$((T1 - T0))" -v hz="$HZ" -v d="$DUR" -v n="$CPU_NODES" -v rss="$RSS" 'BEGIN {
	printf "idle CPU, %d nodes: %d ticks in %d s = %.2f %% of one core (budget 5 %%)\n",
	    n, t, d, 100 * t / hz / d
	printf "RSS, %d nodes: %.1f MB (budget 250 MB)\n", n, rss / 1024 }'
exit 0

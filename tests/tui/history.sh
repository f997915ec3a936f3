#!/bin/sh
#
# history.sh - the node view's sparklines come from the state store's
# metric history when the console records to one, so they survive a
# restart.  In a private tmux server (lib.sh), 160x48:
#   - `nexusctl --demo=20 --state F`: Enter opens a node; its METRICS
#     title says the history is read from the state store and counts the
#     samples, one per node and metric every 10 s (HIST_SAMPLE_MS); wait
#     for at least 3 (20 s of history); q
#   - the console again on the same F: `:node NAME` shows at least as many
#     samples within 2 s of the start, which only the first run can have
#     written (one sample per 10 s), and the load sparkline has points
#   - w cycles the window: the last hour (raw tier, the same samples),
#     the last day (1-minute tier: when no minute is rolled up yet, the
#     ring is drawn and the title says so)
#   - without a store (--demo alone records nothing): the ring, "the last
#     minute, one sample a second", and w says there is no store
#
set -u

SOCKBASE=nxhist-$$
. "${TOP_SRCDIR:-$(dirname "$0")/../..}/tests/tui/lib.sh"
command -v sqlite3 >/dev/null 2>&1 || { echo "SKIP: no sqlite3 CLI"; exit 77; }
DB=$TMP/state.db

start() {
	new_server "sh -c 'ulimit -c 0; \"\$0\" \"\$@\"; echo EXIT=\$?; sleep 60' '$NEXUSCTL' $*"
	wait_for '[0-9]+ nodes' 50 || fail "no node count in the header within 5 s"
}

quit() {
	tm send-keys -t nx q
	wait_for '^EXIT=0$' 100 || fail "q did not exit 0"
}

# samples: the count in the METRICS title, or 0.
samples() {
	cap | sed -n 's/^METRICS (the last .* from the state store, \([0-9]*\) samples.*/\1/p' |
	    head -n 1 | grep . || echo 0
}

# --- first run: record some history --------------------------------------
start "--demo=20 --state '$DB'"
tm send-keys -t nx Enter
wait_for 'CHECKS \([0-9]+\)' 30 || fail "Enter did not open the node view"
NODE=$(cap | sed -n 3p | awk '{ print $1 }')
[ -n "$NODE" ] || fail "no node name on line 3"
wait_for '^METRICS \(the last 10 minutes from the state store, [0-9]+ samples; w: window\)' 150 ||
    fail "the node view does not read the store's history"
n=0
while [ "$(samples)" -lt 3 ]; do
	n=$((n + 1))
	[ $n -gt 400 ] && fail "fewer than 3 samples after 40 s: $(samples)"
	sleep 0.1
done
FIRST=$(samples)
quit
rows=$(sqlite3 "$DB" "SELECT count(*) FROM metric_raw r JOIN metric_series s
    ON s.id = r.series WHERE s.node = '$NODE' AND s.name = 'load'")
[ "$rows" -ge "$FIRST" ] || fail "the store has $rows load samples of $NODE, the view showed $FIRST"

# --- second run on the same store: the history is there at once ----------
start "--demo=20 --state '$DB'"
T0=$(date +%s)
tm send-keys -t nx ":node $NODE" Enter
wait_for "^ $NODE " 20 || fail ":node $NODE did not open the node view"
wait_for '^METRICS \(the last 10 minutes from the state store' 20 ||
    fail "no history from the store after the restart"
got=$(samples)
[ $(($(date +%s) - T0)) -le 3 ] || fail "the history took more than 3 s"
[ "$got" -ge "$FIRST" ] ||
    fail "after the restart $got samples, before it $FIRST: the earlier history is missing"
spark=$(cap | grep -E '^  load ' | cut -c25- | tr -d ' ')
[ "$(printf '%s' "$spark" | wc -m)" -ge 2 ] || fail "the load sparkline is empty: '$spark'"

# --- w: the windows and their tiers --------------------------------------
tm send-keys -t nx w
wait_for '^METRICS \(the last hour from the state store' 30 || fail "w: no hour window"
[ "$(samples)" -ge "$FIRST" ] || fail "the hour window has $(samples) samples"
# The day is read from the 1-minute tier: a minute is rolled up 10 s
# after it ended, so there may be none yet.
tm send-keys -t nx w
wait_for "^METRICS \(the last (day from the state store, [0-9]+ samples|minute; nothing in the state store for the last day yet); w: window\)" 30 ||
    fail "w: no day window"
quit

# --- no store: the ring --------------------------------------------------
start "--demo=20"
tm send-keys -t nx Enter
wait_for 'CHECKS \([0-9]+\)' 30 || fail "Enter did not open the node view (no store)"
wait_for '^METRICS \(the last minute, one sample a second\)' 20 ||
    fail "without a store the view should draw its ring"
tm send-keys -t nx w
wait_for 'no state store' 20 || fail "w without a store says nothing"
quit
exit 0

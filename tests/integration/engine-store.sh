#!/bin/sh
# engine-store.sh - `nexusctl engine` with its state store, as real processes.
#
#  1. kill -9 of `nexusctl engine --demo=2000 --state F` at random moments,
#     ten times on the same file: after each kill PRAGMA integrity_check is
#     ok, seq runs 1..max without a gap, `audit verify` passes, and the next
#     start restores exactly the projection of the file: the digest the
#     engine logs after restoring equals the digest `export --state F`
#     computed from the snapshot and the tail of events.
#  2. SIGTERM: exit 0, a final snapshot, the next start replays no tail.
#  3. export --format json|csv|prometheus (strict line grammar), watch
#     --state following a running engine, check --state.
#  4. A second engine or console on the same file, and an sqlite3 process holding the
#     write lock: clear error, exit 78.  A foreign and a corrupt file:
#     clear error, exit 78, the file byte-for-byte unchanged.
#  5. Disk full (a 6 MiB tmpfs in a private mount namespace): the engine
#     keeps running, says it is degraded and why (stderr, export), loses
#     nothing committed, and resumes when space is freed.
set -u

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

: "${NEXUSCTL:?}"
command -v sqlite3 >/dev/null 2>&1 || { echo "SKIP: no sqlite3 CLI"; exit 77; }
command -v jq >/dev/null 2>&1 || { echo "SKIP: no jq"; exit 77; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/nx-engine-store-XXXXXX") || exit 99
pid=
pid2=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	[ -n "$pid2" ] && kill -9 "$pid2" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
HOME=$dir/home XDG_STATE_HOME=$dir/xdg-state XDG_CONFIG_HOME=$dir/xdg-config
export HOME XDG_STATE_HOME XDG_CONFIG_HOME
mkdir -p "$HOME"
db=$dir/state.db

# wait_for FILE REGEX SECONDS: until a line of FILE matches (bounded).
wait_for() {
	n=0
	until grep -Eq "$2" "$1" 2>/dev/null; do
		n=$((n + 1))
		[ $n -gt $(($3 * 10)) ] && return 1
		sleep 0.1
	done
	return 0
}

check_file() {    # check_file RUN: integrity, no seq gap, audit chain
	check=$(sqlite3 "$db" "PRAGMA integrity_check") || fail "$1: sqlite3 failed"
	[ "$check" = ok ] || fail "$1: integrity_check: $check"
	set -- "$1" $(sqlite3 -separator ' ' "$db" \
	    "SELECT count(*), coalesce(min(seq), 0), coalesce(max(seq), 0) FROM events")
	[ "$2" -eq "$4" ] && { [ "$3" -eq 1 ] || [ "$2" -eq 0 ]; } ||
	    fail "$1: seq has gaps: $2 rows from $3 to $4"
	"$NEXUSCTL" audit verify --state "$db" >"$dir/verify" ||
	    fail "$1: audit verify: $(cat "$dir/verify")"
	max=$4
}

# ---- 1. kill -9 at random moments ----------------------------------------
prev_digest=
i=1
while [ $i -le 10 ]; do
	err=$dir/engine-err.$i
	"$NEXUSCTL" engine --demo=2000 --state "$db" --snapshot-events 4000 \
	    2>"$err" &
	pid=$!
	wait_for "$err" "started:" 10 || fail "run $i: no start: $(cat "$err")"
	if [ -n "$prev_digest" ]; then
		got=$(sed -n 's/.*restored .* digest \([0-9a-f]*\)$/\1/p' "$err")
		[ "$got" = "$prev_digest" ] ||
		    fail "run $i: restored digest '$got', the file's projection was $prev_digest: $(cat "$err")"
	fi
	delay=$(awk -v s="$$$i" 'BEGIN { srand(s); printf "%.2f", 0.1 + rand() * 1.4 }')
	sleep "$delay"
	kill -9 "$pid"
	wait "$pid" 2>/dev/null
	pid=
	check_file "run $i"
	"$NEXUSCTL" export --state "$db" --format json >"$dir/export.json" ||
	    fail "run $i: export failed"
	prev_digest=$(jq -r .digest "$dir/export.json")
	[ "$(jq -r .seq "$dir/export.json")" -eq "$max" ] ||
	    fail "run $i: export seq $(jq -r .seq "$dir/export.json") != $max"
	[ "$(jq -r .engine_running "$dir/export.json")" = false ] ||
	    fail "run $i: export thinks the killed engine runs"
	echo "run $i: killed after ${delay}s; $max events, integrity ok, no gap, snapshot at $(jq -r .snapshot_seq "$dir/export.json"), digest $prev_digest"
	i=$((i + 1))
done
hard=$(jq '[.nodes[].checks[] | select(.state_type == "HARD" and .state != "OK")] | length' "$dir/export.json")
[ "$hard" -gt 0 ] || fail "no HARD problem in the projection"

# ---- 2. SIGTERM: clean stop, final snapshot --------------------------------
err=$dir/engine-err.term
"$NEXUSCTL" engine --demo=2000 --state "$db" 2>"$err" &
pid=$!
wait_for "$err" "started:" 10 || fail "term: no start: $(cat "$err")"
got=$(sed -n 's/.*restored .* digest \([0-9a-f]*\)$/\1/p' "$err")
[ "$got" = "$prev_digest" ] || fail "term: restored digest $got != $prev_digest"

# ---- 3. while it runs: export formats, watch --state, a second writer ---
"$NEXUSCTL" watch --state "$db" --count 5 >"$dir/watch" 2>"$dir/watch-err" &
wpid=$!
n=0
while kill -0 $wpid 2>/dev/null; do
	n=$((n + 1))
	[ $n -gt 150 ] && { kill $wpid; fail "watch --state did not end"; }
	sleep 0.1
done
wait $wpid || fail "watch --state: $(cat "$dir/watch-err")"
[ "$(wc -l <"$dir/watch")" -eq 5 ] || fail "watch --state printed $(wc -l <"$dir/watch") lines"
jq -e 'select(.seq > 0 and (.kind | type) == "string")' "$dir/watch" >/dev/null ||
    fail "watch --state: $(head -2 "$dir/watch")"

"$NEXUSCTL" export --state "$db" --format prometheus >"$dir/prom" ||
    fail "export prometheus failed"
# The text exposition format, line by line.
bad=$(grep -Ev '^# (HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|summary|histogram|untyped))$' "$dir/prom" |
    grep -Ev '^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\["\\n])*"(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\["\\n])*")*\})? -?([0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?|NaN|[+-]Inf)$' | head -3)
[ -z "$bad" ] || fail "prometheus: bad lines: $bad"
[ "$(grep -c '^nexus_node_health{node="' "$dir/prom")" -eq 2001 ] ||   # 2,000 simulated + this machine
    fail "prometheus: $(grep -c '^nexus_node_health' "$dir/prom") node health lines"
for m in nexus_check_state nexus_events_total nexus_results_per_second \
    nexus_store_queue_depth nexus_store_commit_latency_p99_seconds \
    nexus_sched_latency_p99_seconds nexus_store_degraded; do
	grep -q "^$m[{ ]" "$dir/prom" || fail "prometheus: no $m"
done
grep -q '^nexus_store_degraded 0$' "$dir/prom" || fail "prometheus: degraded?"
# The engine metrics: events/s, queue depths, commit latency quantiles
# from the writer's ring, scheduling latency as a summary.
for m in nexus_events_per_second nexus_store_events_committed \
    nexus_store_queue_bytes nexus_store_sample_queue_depth \
    nexus_store_producer_waits_total nexus_store_dropped_total \
    nexus_store_commits_total nexus_store_dead_letters \
    nexus_sched_latency_seconds_count nexus_sched_latency_seconds_sum; do
	grep -q "^$m " "$dir/prom" || fail "prometheus: no $m"
done
for q in 0.5 0.99 1; do
	grep -q "^nexus_store_commit_latency_seconds{quantile=\"$q\"} " "$dir/prom" ||
	    fail "prometheus: no commit latency quantile $q"
	grep -q "^nexus_sched_latency_seconds{quantile=\"$q\"} " "$dir/prom" ||
	    fail "prometheus: no scheduling latency quantile $q"
done
val() { sed -n "s/^$1 //p" "$dir/prom"; }
# The rate needs two status ticks (one a second): wait for it, bounded.
n=0
until awk -v e="$(val nexus_events_per_second)" 'BEGIN { exit !(e > 0) }'; do
	n=$((n + 1))
	[ $n -gt 50 ] && fail "prometheus: events/s stays $(val nexus_events_per_second)"
	sleep 0.2
	"$NEXUSCTL" export --state "$db" --format prometheus >"$dir/prom" ||
	    fail "export prometheus failed"
done
awk -v e="$(val nexus_events_per_second)" -v c="$(val nexus_store_commits_total)" \
    -v n="$(val nexus_sched_latency_seconds_count)" \
    -v p50="$(val 'nexus_store_commit_latency_seconds{quantile="0.5"}')" \
    -v p99="$(val 'nexus_store_commit_latency_seconds{quantile="0.99"}')" \
    -v max="$(val 'nexus_store_commit_latency_seconds{quantile="1"}')" \
    'BEGIN { exit !(e > 0 && c > 0 && n > 0 && p50 > 0 && p50 <= p99 && p99 <= max && max < 60) }' ||
    fail "prometheus engine metrics: $(grep -E '^nexus_(events_per|store_commit|sched_latency_seconds)' "$dir/prom")"
# Every family once, HELP and TYPE before its samples.
dup=$(grep '^# TYPE' "$dir/prom" | awk '{print $3}' | sort | uniq -d)
[ -z "$dup" ] || fail "prometheus: families declared twice: $dup"
awk '/^# TYPE/ { t[$3] = 1; next } /^#/ { next }
    { n = $1; sub(/\{.*/, "", n); b = n; sub(/_(sum|count)$/, "", b)
      if (!(n in t) && !(b in t)) { print "no TYPE before " n; exit 1 } }' \
    "$dir/prom" || fail "prometheus: sample before its TYPE line"
"$NEXUSCTL" export --state "$db" --format json >"$dir/export.json"
[ "$(jq -r .engine_running "$dir/export.json")" = true ] || fail "export: engine not seen running"
jq -e '.metrics.pid > 0 and .summary.nodes == 2001' "$dir/export.json" >/dev/null ||
    fail "export json: $(jq -c '.metrics, .summary' "$dir/export.json")"
"$NEXUSCTL" export --state "$db" --format csv >"$dir/csv"
head -1 "$dir/csv" | grep -q '^node,check,state,state_type,' || fail "csv header"
[ "$(($(wc -l <"$dir/csv") - 1))" -eq "$(jq '.summary.nodes + .summary.checks' "$dir/export.json")" ] ||
    fail "csv rows: $(wc -l <"$dir/csv")"

# A second engine on the same file.
"$NEXUSCTL" engine --demo=10 --state "$db" 2>"$dir/second"
rc=$?
[ $rc -eq 78 ] || fail "second engine: exit $rc, wanted 78"
grep -q "in use by another nexusctl process" "$dir/second" || fail "second: $(cat "$dir/second")"
# ... and a console (on a terminal: script(1) gives it one).
if command -v script >/dev/null 2>&1; then
	TERM=xterm script -qec "'$NEXUSCTL' --demo=10 --state '$db'" /dev/null \
	    >"$dir/console" 2>&1 </dev/null
	rc=$?
	[ $rc -eq 78 ] || fail "console on a store in use: exit $rc: $(cat "$dir/console")"
	grep -q "in use by another nexusctl process" "$dir/console" ||
	    fail "console: $(cat "$dir/console")"
fi

# Another process reading the file must not take the WAL away from the
# running engine (it would, were the engine's POSIX locks on the file
# dropped by a close() of some descriptor of it: its commits would then go
# to a deleted WAL).  The engine holds a lock on the database itself.
ino=$(stat -c %i "$db")
grep -Eq "POSIX +ADVISORY +READ +$pid [0-9a-f]+:[0-9a-f]+:$ino " /proc/locks ||
    fail "the engine holds no POSIX lock on $db: $(grep " $pid " /proc/locks)"
c1=$(sqlite3 "$db" "SELECT max(seq) FROM events")
sleep 1.2
c2=$(sqlite3 "$db" "SELECT max(seq) FROM events")
[ -e "$db-wal" ] || fail "the WAL went away while the engine runs"
[ "$c2" -gt "$c1" ] || fail "commits not visible to another process: $c1 then $c2"
echo "a reader in another process: the engine keeps its lock and WAL ($c1 -> $c2)"

# A batch `run` while the engine holds the store: its audit rows still go
# into the file's one chain (a connection per row; the writers take turns).
rows0=$("$NEXUSCTL" audit list --state "$db" --format json | jq length)
"$NEXUSCTL" run --state "$db" -w '127.0.0.[1-3]' -p 1 -u 2 -F none --no-agent \
    -- true >"$dir/run.out" 2>"$dir/run.err"
rc=$?
[ $rc -eq 2 ] || fail "run while the engine runs: exit $rc: $(cat "$dir/run.err")"
grep -q "not recorded" "$dir/run.err" && fail "run: $(cat "$dir/run.err")"
"$NEXUSCTL" audit list --state "$db" --format json >"$dir/audit.json" ||
    fail "audit list"
[ "$(jq length "$dir/audit.json")" -ge $((rows0 + 2)) ] &&
    jq -e '[.[] | select(.action == "adhoc" and .target == "127.0.0.[1-3]")] | length == 1' \
    "$dir/audit.json" >/dev/null ||
    fail "run's audit rows while the engine runs: $(jq -c '.[-2:]' "$dir/audit.json")"
"$NEXUSCTL" audit verify --state "$db" >/dev/null ||
    fail "audit verify after run's rows"
echo "run while the engine holds the store: its audit rows in the chain, verified"

kill -TERM "$pid"
n=0
while kill -0 "$pid" 2>/dev/null; do
	n=$((n + 1))
	[ $n -gt 100 ] && fail "engine did not stop within 10 s of SIGTERM"
	sleep 0.1
done
wait "$pid"
rc=$?
pid=
[ $rc -eq 0 ] || fail "SIGTERM: exit $rc: $(cat "$err")"
grep -q "stopping (Terminated)" "$err" || fail "no stopping line: $(cat "$err")"
grep -q "stopped: " "$err" || fail "no stopped line: $(cat "$err")"
check_file "term"
"$NEXUSCTL" export --state "$db" --format json >"$dir/export.json"
[ "$(jq -r .tail_events "$dir/export.json")" -eq 0 ] ||
    fail "after SIGTERM the snapshot does not cover the end: $(jq -c '{seq, snapshot_seq, tail_events}' "$dir/export.json")"
echo "SIGTERM: exit 0, final snapshot at seq $(jq -r .snapshot_seq "$dir/export.json")"
[ "$(jq -r .dead_letters "$dir/export.json")" = 0 ] ||
    fail "dead letters: $(jq -r .dead_letters "$dir/export.json")"
[ "$(sqlite3 "$db" "SELECT count(*) FROM metric_raw")" -gt 0 ] ||
    fail "no metric history recorded"

# check writes a store only with --state.
"$NEXUSCTL" check --demo=20 >/dev/null
[ -e "$XDG_STATE_HOME/nexusctl/state.db" ] && fail "check without --state wrote the default store"
"$NEXUSCTL" check --demo=20 --state "$dir/check.db" --format json >"$dir/check.json"
[ "$(sqlite3 "$dir/check.db" "SELECT count(*) FROM events WHERE kind = 'result'")" -eq "$(jq .summary.checks "$dir/check.json")" ] ||
    fail "check --state: $(sqlite3 "$dir/check.db" "SELECT count(*) FROM events")"
"$NEXUSCTL" export --demo=20 --format json | jq -e '.source == "engine" and .summary.nodes == 21' >/dev/null ||
    fail "export without --state"

# ---- 4. locked, foreign, corrupt ------------------------------------------
(echo "BEGIN EXCLUSIVE;"; sleep 9) | sqlite3 "$db" &
pid2=$!
sleep 0.5
"$NEXUSCTL" engine --demo=10 --state "$db" 2>"$dir/locked"
rc=$?
kill "$pid2" 2>/dev/null
wait "$pid2" 2>/dev/null
pid2=
[ $rc -eq 78 ] || fail "locked: exit $rc, wanted 78: $(cat "$dir/locked")"
grep -q "locked by another process" "$dir/locked" || fail "locked: $(cat "$dir/locked")"

printf 'hosts:\n  web01: {}\n' >"$dir/foreign"
cp "$dir/foreign" "$dir/foreign.orig"
"$NEXUSCTL" engine --demo=10 --state "$dir/foreign" 2>"$dir/err"
rc=$?
[ $rc -eq 78 ] || fail "foreign file: exit $rc"
grep -q "not an SQLite database" "$dir/err" || fail "foreign: $(cat "$dir/err")"
cmp -s "$dir/foreign" "$dir/foreign.orig" || fail "foreign file modified"
sqlite3 "$dir/other.db" "CREATE TABLE t (x); INSERT INTO t VALUES (1)"
cp "$dir/other.db" "$dir/other.orig"
"$NEXUSCTL" engine --demo=10 --state "$dir/other.db" 2>"$dir/err"
rc=$?
[ $rc -eq 78 ] || fail "other application's db: exit $rc"
grep -q "another application" "$dir/err" || fail "other: $(cat "$dir/err")"
cmp -s "$dir/other.db" "$dir/other.orig" || fail "other application's db modified"
{ printf 'SQLite format 3\000'; head -c 8000 /dev/urandom; } >"$dir/corrupt"
cp "$dir/corrupt" "$dir/corrupt.orig"
"$NEXUSCTL" engine --demo=10 --state "$dir/corrupt" 2>"$dir/err"
rc=$?
[ $rc -eq 78 ] || fail "corrupt file: exit $rc: $(cat "$dir/err")"
cmp -s "$dir/corrupt" "$dir/corrupt.orig" || fail "corrupt file modified"
[ -e "$dir/corrupt-wal" ] && fail "a -wal file was created next to the corrupt file"
echo "locked, second engine, foreign, other application, corrupt: exit 78, files unchanged"

# ---- 5. disk full -------------------------------------------------------
if ! unshare -m true 2>/dev/null; then
	echo "SKIP (disk full): unshare -m not permitted"
	exit 0
fi
mkdir -p "$dir/full"
DIR=$dir NEXUSCTL=$NEXUSCTL unshare -m sh -c '
set -u
fail() { echo "FAIL: disk full: $*" >&2; exit 1; }
wait_for() {
	n=0
	until grep -Eq "$2" "$1" 2>/dev/null; do
		n=$((n + 1))
		[ $n -gt $(($3 * 10)) ] && return 1
		sleep 0.1
	done
}
mount -t tmpfs -o size=6m nx-full "$DIR/full" || { echo "SKIP: no tmpfs"; exit 0; }
db=$DIR/full/state.db
err=$DIR/full-err
"$NEXUSCTL" engine --demo=300 --state "$db" 2>"$err" &
pid=$!
trap "kill -9 $pid 2>/dev/null" EXIT
wait_for "$err" "started:" 10 || fail "no start: $(cat "$err")"
sleep 1
dd if=/dev/zero of="$DIR/full/filler" bs=16k 2>/dev/null
wait_for "$err" "store degraded" 20 || fail "not degraded: $(cat "$err")"
grep "store degraded" "$err" | grep -qi "full" || fail "reason: $(cat "$err")"
kill -0 $pid || fail "the engine died on a full disk"
before=$(sqlite3 "$db" "SELECT max(seq) FROM events")
"$NEXUSCTL" export --state "$db" --format json >"$DIR/full-export" ||
    fail "export on a full disk"
jq -e ".metrics.degraded == true and (.metrics.reason | test(\"full\"))" "$DIR/full-export" >/dev/null ||
    fail "export: $(jq -c .metrics "$DIR/full-export")"
"$NEXUSCTL" export --state "$db" --format prometheus | grep -q "^nexus_store_degraded 1$" ||
    fail "prometheus does not say degraded"
sleep 1
rm -f "$DIR/full/filler"
wait_for "$err" "store recovered" 15 || fail "not recovered: $(cat "$err")"
kill -TERM $pid
wait $pid
rc=$?
trap - EXIT
[ $rc -eq 0 ] || fail "SIGTERM after recovery: exit $rc: $(cat "$err")"
set -- $(sqlite3 -separator " " "$db" "SELECT count(*), min(seq), max(seq) FROM events")
[ "$1" -eq "$3" ] && [ "$2" -eq 1 ] || fail "seq gaps after recovery: $*"
[ "$3" -ge "$before" ] || fail "lost committed events: $3 < $before"
[ "$(sqlite3 "$db" "SELECT count(*) FROM gaps")" -eq 0 ] || fail "gap records"
[ "$(sqlite3 "$db" "PRAGMA integrity_check")" = ok ] || fail "integrity"
echo "disk full: degraded ($(grep -m1 "store degraded" "$err" | cut -c1-100)...), recovered, $3 events, no gap"
' || fail "disk full section"
exit 0

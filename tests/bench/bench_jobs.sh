#!/bin/sh
# bench_jobs.sh - `nexusctl jobs --limit 3` on a store of N events (default
# 1,000,000), before and after the schema 4 index events_kind (kind, seq).
#
# A short `nexusctl engine --demo=200` makes a real store (real result
# payloads); sqlite3 then copies its result events up to N, one in 1,000 a
# job event in job.c's text format.  "Before" is the same file taken back
# to schema 3 (index dropped, user_version 3), read as an old store is
# read: `jobs` never writes.  "After" is that file opened by a writer
# (`nexusctl engine` started and stopped: the upgrade in place), timed
# too.  Each `jobs` timing is REPS runs (default 3), the median printed.
# A benchmark, not a test.
#
#   NEXUSCTL=./nexusctl sh tests/bench/bench_jobs.sh [N]
#   (needs the sqlite3 command-line shell)

set -u
: "${NEXUSCTL:?}"
command -v sqlite3 >/dev/null 2>&1 || { echo "needs sqlite3"; exit 1; }
N=${1:-1000000}
REPS=${REPS:-3}
W=$(mktemp -d "${TMPDIR:-/tmp}/nx-bench-jobs.XXXXXX") || exit 1
epid=
cleanup() {
	[ -n "$epid" ] && kill "$epid" 2>/dev/null && wait "$epid" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT INT TERM
export XDG_CONFIG_HOME="$W/config" XDG_STATE_HOME="$W/state"
DB="$W/state.db"

now_ms() {
	echo $(( $(date +%s%N) / 1000000 ))
}

# engine_cycle: starts an engine on DB, waits (20 s at most) until it
# says started, stops it; prints the ms from launch to "started".
engine_cycle() {
	t0=$(now_ms)
	"$NEXUSCTL" engine --demo=200 --state "$DB" 2>"$W/engine.err" &
	epid=$!
	i=0
	while ! grep -q 'started:' "$W/engine.err" && [ $i -lt 400 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	t1=$(now_ms)
	sleep "${1:-0}"
	kill "$epid"
	wait "$epid"
	epid=
	grep -q 'started:' "$W/engine.err" || { cat "$W/engine.err"; exit 1; }
	echo $((t1 - t0))
}

# median_jobs LABEL: REPS timings of `jobs --limit 3`, each printed, and
# the median.
median_jobs() {
	: >"$W/times"
	r=0
	while [ $r -lt "$REPS" ]; do
		t0=$(now_ms)
		"$NEXUSCTL" jobs --state "$DB" --limit 3 >"$W/jobs.out" ||
		    { echo "jobs failed"; exit 1; }
		t1=$(now_ms)
		echo $((t1 - t0)) >>"$W/times"
		r=$((r + 1))
	done
	printf '%s: jobs --limit 3: %s ms (runs: %s); %s lines\n' "$1" \
	    "$(sort -n "$W/times" | sed -n "$(( (REPS + 1) / 2 ))p")" \
	    "$(tr '\n' ' ' <"$W/times" | sed 's/ $//')" \
	    "$(wc -l <"$W/jobs.out")"
}

engine_cycle 2 >/dev/null
sqlite3 "$DB" <<EOF || exit 1
CREATE TEMP TABLE src AS SELECT row_number() OVER (ORDER BY seq) - 1 AS k,
    node, "check", payload FROM events WHERE kind = 'result';
WITH RECURSIVE c(i) AS (SELECT (SELECT max(seq) FROM events) + 1
    UNION ALL SELECT i + 1 FROM c WHERE i < $N)
INSERT INTO events (seq, time, kind, node, "check", payload)
SELECT i, 1700000000000 + i * 10,
    CASE WHEN i % 1000 = 0 THEN 'job' ELSE 'result' END,
    src.node, CASE WHEN i % 1000 = 0 THEN NULL ELSE src."check" END,
    CASE WHEN i % 1000 = 0 THEN json_object('output', 'job ' || (i / 1000)
        || ' ad-hoc: succeeded 1/1 (1 ok, 0 failed, 0 error, 0 cancelled)'
        || ' created=2023-11-14T22:13:20.000Z origin=console user=bench'
        || ' target=' || src.node)
    ELSE src.payload END
FROM c JOIN src ON src.k = i % (SELECT count(*) FROM src);
DROP INDEX events_kind;
PRAGMA user_version = 3;
EOF
printf 'store: %s events (%s job), %s bytes\n' \
    "$(sqlite3 "$DB" 'SELECT count(*) FROM events')" \
    "$(sqlite3 "$DB" "SELECT count(*) FROM events WHERE kind = 'job'")" \
    "$(wc -c <"$DB")"

median_jobs "schema 3 (no index on kind)"
printf 'upgrade: engine start to "started" on the schema 3 file: %s ms\n' \
    "$(engine_cycle)"
printf 'again, already schema %s: %s ms\n' \
    "$(sqlite3 "$DB" 'PRAGMA user_version')" "$(engine_cycle)"
median_jobs "schema 4 (events_kind)"

#!/bin/sh
# store-kill.sh - kill -9 loses nothing committed.
#
# store_ingest runs the engine on a simulated fleet of 5,000 nodes with a
# store subscribed (tens of thousands of events a second) and prints every
# committed seq.  It is killed with SIGKILL at a random moment, ten times in
# a row on the same file; after each kill:
#   - `PRAGMA integrity_check` (sqlite3 CLI) says ok,
#   - every seq the helper saw committed is in the file,
#   - seq runs from 1 to max with no gap (each run resumes the last one),
#   - `nexusctl audit verify` exits 0, with one audit row per run.
# Also: `audit verify` exits 78 for a missing file and 65 for a foreign one,
# leaving it untouched.
set -u

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

: "${NEXUSCTL:?}"
INGEST=$(dirname "$NEXUSCTL")/tests/integration/store_ingest
command -v sqlite3 >/dev/null 2>&1 || { echo "SKIP: no sqlite3 CLI"; exit 77; }
[ -x "$INGEST" ] || { echo "SKIP: $INGEST not built"; exit 77; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/nx-store-kill-XXXXXX") || exit 99
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
db=$dir/state.db

# Missing and foreign files: clear errors, distinct statuses, no damage.
"$NEXUSCTL" audit verify --state "$dir/missing.db" 2>"$dir/err"
rc=$?
[ $rc -eq 78 ] || fail "missing file: exit $rc, wanted 78"
grep -q "no such state file" "$dir/err" || fail "missing file: $(cat "$dir/err")"
[ -e "$dir/missing.db" ] && fail "audit verify created the missing file"
printf 'hosts:\n  web01: {}\n' >"$dir/foreign"
cp "$dir/foreign" "$dir/foreign.orig"
"$NEXUSCTL" audit verify --state "$dir/foreign" 2>"$dir/err"
rc=$?
[ $rc -eq 65 ] || fail "foreign file: exit $rc, wanted 65"
grep -q "not an SQLite database" "$dir/err" || fail "foreign: $(cat "$dir/err")"
cmp -s "$dir/foreign" "$dir/foreign.orig" || fail "foreign file was modified"

i=1
while [ $i -le 10 ]; do
	out=$dir/out.$i
	"$INGEST" "$db" 60 5000 500 >"$out" 2>"$dir/ingest-err.$i" &
	pid=$!
	# Wait (at most 10 s) until it ingests, then kill it at a random moment.
	n=0
	until grep -q '^start' "$out" 2>/dev/null; do
		n=$((n + 1))
		[ $n -gt 100 ] && fail "run $i: store_ingest did not start: $(cat "$dir/ingest-err.$i")"
		kill -0 "$pid" 2>/dev/null || fail "run $i: store_ingest died: $(cat "$dir/ingest-err.$i")"
		sleep 0.1
	done
	delay=$(awk -v s="$$$i" 'BEGIN { srand(s); printf "%.2f", 0.2 + rand() * 1.3 }')
	sleep "$delay"
	kill -9 "$pid"
	wait "$pid" 2>/dev/null
	pid=

	printed=$(sed -n 's/^committed //p' "$out" | tail -n 1)
	[ -n "$printed" ] || printed=$(sed -n 's/^start //p' "$out")
	check=$(sqlite3 "$db" "PRAGMA integrity_check") || fail "run $i: sqlite3 failed"
	[ "$check" = ok ] || fail "run $i: integrity_check: $check"
	set -- $(sqlite3 -separator ' ' "$db" \
	    "SELECT count(*), coalesce(min(seq), 0), coalesce(max(seq), 0) FROM events")
	count=$1 min=$2 max=$3
	[ "$max" -ge "$printed" ] || fail "run $i: seq $printed was reported committed, the file ends at $max"
	[ "$count" -eq "$max" ] && { [ "$min" -eq 1 ] || [ "$count" -eq 0 ]; } ||
	    fail "run $i: seq has gaps: $count rows from $min to $max"
	gaps=$(sqlite3 "$db" "SELECT count(*) FROM gaps")
	[ "$gaps" -eq 0 ] || fail "run $i: $gaps gap records"
	"$NEXUSCTL" audit verify --state "$db" >"$dir/verify" ||
	    fail "run $i: audit verify: $(cat "$dir/verify")"
	grep -q "audit chain intact: $i rows" "$dir/verify" ||
	    fail "run $i: $(cat "$dir/verify")"
	echo "run $i: killed after ${delay}s; committed >= $printed; file: $count events, integrity ok, audit ok"
	i=$((i + 1))
done

# The head printed by `audit head` verifies; a wrong one does not.
head=$("$NEXUSCTL" audit head --state "$db") || fail "audit head failed"
echo "$head" | grep -Eq '^10:[0-9a-f]{64}$' || fail "audit head printed '$head'"
"$NEXUSCTL" audit verify --state "$db" --head "$head" >"$dir/verify" ||
    fail "verify --head: $(cat "$dir/verify")"
grep -q "head ${head#10:}" "$dir/verify" || fail "verify: $(cat "$dir/verify")"
"$NEXUSCTL" audit verify --state "$db" \
    --head "3:0000000000000000000000000000000000000000000000000000000000000000" \
    >"$dir/verify"
[ $? -eq 1 ] || fail "verify with a wrong head passed"

# Tampering is caught by the real binary too.
sqlite3 "$db" "UPDATE audit SET result = 'denied' WHERE seq = 4"
"$NEXUSCTL" audit verify --state "$db" >"$dir/verify"
rc=$?
[ $rc -eq 1 ] || fail "tampered chain: exit $rc"
grep -q "BROKEN at row 4 (changed)" "$dir/verify" || fail "tampered: $(cat "$dir/verify")"
exit 0

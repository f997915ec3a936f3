#!/bin/sh
# jobs-batch.sh - `nexusctl jobs` lists the jobs of batch `nexusctl run`
# (no --engine), which write audit rows but no events into the store:
#  1. a local action that fails on one of three nodes: one record, batch,
#     failed, 2 ok 1 failed of 3, action, target, user; the text line says
#     "batch by USER"; `jobs 1` shows its two audit rows;
#  2. a slow one: listed as running while it runs, then succeeded, one
#     record (the start row and the end row folded together);
#  3. with an engine running on the same store: a batch run (rows through
#     the engine-held file) and a `run --engine` job (events) are both
#     listed, the batch one marked so and the engine's not, in creation
#     order; --limit 1 is the last; the chain still verifies.
#
# Local actions only: no network.  Needs $NEXUSCTL and jq.
# Exit: 0 pass, 1 fail, 77 skip.

set -u
: "${NEXUSCTL:?}" "${TOP_SRCDIR:?}"
command -v jq >/dev/null 2>&1 || { echo "SKIP: jq is not installed"; exit 77; }
W=$(mktemp -d "${TMPDIR:-/tmp}/nx-jobs-batch.XXXXXX") || exit 1
bgpid=
. "$TOP_SRCDIR/tests/integration/lib.sh"
cleanup() {
	[ -n "$bgpid" ] && kill "$bgpid" 2>/dev/null && wait "$bgpid" 2>/dev/null
	engine_stop
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
export XDG_CONFIG_HOME="$W/config" XDG_STATE_HOME="$W/state"
DB="$W/state.db"
ME=$(id -un)
fail_context() {
	echo "--- jobs"; head -c 3000 "$W/jobs.out" 2>/dev/null
	echo "--- run stderr"; head -c 2000 "$W/run.err" 2>/dev/null
}

cat >"$W/conf.json" <<'EOF'
{ "demo": { "enabled": false, "local": false },
  "actions": { "define": [
    { "name": "probe", "kind": "local", "command": "test $HOSTNAME$ != n2" },
    { "name": "slow", "kind": "local", "command": "sleep 2" },
    { "name": "fine", "kind": "local", "command": "true" }
  ] } }
EOF
printf '{"nodes": [%s, %s, %s]}\n' \
    '{"name": "n1", "address": "127.0.0.1", "groups": ["g"]}' \
    '{"name": "n2", "address": "127.0.0.1", "groups": ["g"]}' \
    '{"name": "n3", "address": "127.0.0.1", "groups": ["g"]}' >"$W/inv.json"

# run ARGS...: a batch run, bounded; rc in $rc.
run() {
	timeout 30 "$NEXUSCTL" run -c "$W/conf.json" -i "$W/inv.json" \
	    --state "$DB" "$@" </dev/null >"$W/run.out" 2>"$W/run.err"
	rc=$?
}
# jobs_json: `jobs --format json --limit 0` into jobs.out; its status.
jobs_json() {
	"$NEXUSCTL" jobs --state "$DB" --format json --limit 0 \
	    >"$W/jobs.out" 2>"$W/jobs.err"
}
jq_ok() { jq -e "$@" "$W/jobs.out" >/dev/null 2>&1; }

# --- 1. a failed batch job
run probe -t @g
if [ $rc -eq 1 ] && jobs_json && jq_ok --arg me "$ME" 'length == 1 and
    (.[0] | .batch == true and .origin == "batch" and .id == 1 and
    .state == "failed" and .action == "probe" and .target == "n[1-3]" and
    .hosts == 3 and .done == 3 and .ok == 2 and .failed == 1 and
    .error == 0 and .user == $me and .first_seq == null and
    .audit_first_seq == 1 and .audit_last_seq == 2 and .events == 2 and
    (.created | test("^[0-9-]+T[0-9:.]+Z$")))'; then
	pass "batch run, failed on n2: one batch record, failed, 2 ok 1 failed of 3"
else
	fail "batch job record (run rc=$rc)"
fi
"$NEXUSCTL" jobs --state "$DB" >"$W/jobs.out" 2>&1
if grep -Eq "^    1  [0-9-]+ [0-9:]+  failed     probe on n\[1-3\]: 3/3 \(2 ok, 1 failed, 0 error, 0 cancelled\), batch by $ME\$" "$W/jobs.out" &&
   "$NEXUSCTL" jobs --state "$DB" 1 >"$W/jobs.out" 2>&1 &&
   grep -Eq '^       audit 1  .*  run: started job 1$' "$W/jobs.out" &&
   grep -Eq '^       audit 2  .*  job: failed 1/3 \(2 ok, 1 failed, 0 error, 0 cancelled\)$' "$W/jobs.out"; then
	pass "text: 'batch by $ME'; jobs 1: its start and end audit rows"
else
	fail "jobs text"
fi

# --- 2. running, then done: one record
timeout 30 "$NEXUSCTL" run -c "$W/conf.json" -i "$W/inv.json" --state "$DB" \
    slow -t n1 </dev/null >"$W/slow.out" 2>"$W/slow.err" &
bgpid=$!
i=0
seen=no
while [ $i -lt 50 ]; do
	if jobs_json && jq_ok 'length == 2 and .[1].state == "running" and
	    .[1].action == "slow" and .[1].hosts == 1 and .[1].batch'; then
		seen=yes
		break
	fi
	sleep 0.1
	i=$((i + 1))
done
wait "$bgpid"
src=$?
bgpid=
if [ $seen = yes ] && [ $src -eq 0 ] && jobs_json &&
   jq_ok 'length == 2 and (.[1] | .state == "succeeded" and
    .action == "slow" and .ok == 1 and .hosts == 1 and .events == 2)'; then
	pass "a batch job is listed as running while it runs, then succeeded (one record)"
else
	fail "running batch job (seen running: $seen, run rc=$src)"
fi

# --- 3. with an engine on the same store
engine_start "$W/engine.err" -c "$W/conf.json" -i "$W/inv.json" --state "$DB"
run fine -t n1,n3
rc1=$rc
timeout 30 "$NEXUSCTL" run --engine -c "$W/conf.json" --state "$DB" \
    fine -t n2 </dev/null >"$W/run.out" 2>"$W/run.err"
rc2=$?
ok=no
i=0
while [ $i -lt 50 ]; do
	if jobs_json && jq_ok --arg me "$ME" 'length == 4 and
	    (.[2] | .batch and .origin == "batch" and .state == "succeeded" and
	    .action == "fine" and .target == "n[1,3]" and .ok == 2 and
	    .user == $me) and
	    (.[3] | (.batch | not) and .origin == "ctl" and
	    .state == "succeeded" and .target == "n2" and .first_seq != null and
	    .audit_first_seq == null)'; then
		ok=yes
		break
	fi
	sleep 0.1
	i=$((i + 1))
done
if [ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && [ $ok = yes ] &&
   ! grep -q 'not recorded' "$W/engine.err" "$W/run.err"; then
	pass "engine running: the batch job (audit rows) and the engine's job (events) both listed"
else
	fail "with an engine (batch rc=$rc1, --engine rc=$rc2)"
fi
"$NEXUSCTL" jobs --state "$DB" --limit 1 >"$W/jobs.out" 2>&1
if [ "$(wc -l <"$W/jobs.out")" -eq 1 ] &&
   grep -q 'succeeded  fine on n2: .*, ctl by ' "$W/jobs.out" &&
   "$NEXUSCTL" audit verify --state "$DB" >"$W/verify.out" 2>&1; then
	pass "--limit 1: the engine's job, the last; the audit chain verifies"
else
	fail "--limit 1 / audit verify: $(cat "$W/verify.out")"
fi
engine_stop
summary

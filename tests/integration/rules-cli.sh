#!/bin/sh
# rules-cli.sh - `nexusctl rules` and `nexusctl jobs` against a real
# `nexusctl engine --state FILE` (headless), with real processes:
#
#  1. three inventory nodes whose local plugin check always fails and an
#     auto rule whose local action does not fix it (breaker: 2 runs):
#     STATE.remed.json appears with the engine's pid; `rules --format
#     json` shows the rule's jobs, then an open breaker on every node;
#     the text form says so on one line; `jobs` lists the six jobs with
#     their action, target, origin and outcome, `jobs N` every event of
#     one job.
#  2. SIGTERM: exit 0, STATE.remed.json removed; `rules` falls back to the
#     configuration ("not running"), as it does with a stale file whose
#     pid is gone; `jobs` still reads the history.
#  3. A second engine run on the same store: job ids start at 1 again and
#     `jobs` keeps both runs' jobs apart (their creation times).
#  4. reset/enable/disable: through the running engine's control socket.
#
# Exit: 0 pass, 1 fail, 77 skip.  Every wait is bounded.

set -u
: "${NEXUSCTL:?}"
command -v jq >/dev/null 2>&1 || { echo "SKIP: no jq"; exit 77; }

W=$(mktemp -d "${TMPDIR:-/tmp}/nx-rules-cli.XXXXXX") || exit 1
. "$TOP_SRCDIR/tests/integration/lib.sh"
fail_context() {
	[ -f "$W/err" ] && { echo "--- engine log"; tail -c 2000 "$W/err"; }
}
trap 'engine_stop; rm -rf "$W"' EXIT
trap 'exit 1' INT TERM
export XDG_CONFIG_HOME="$W/config" XDG_STATE_HOME="$W/state"
DB=$W/s.db
CFG=$W/c.json

start_engine() {
	engine_start "$W/err" -c "$CFG" -i "$W/inv.json" --state "$DB"
}
# wait_for SECONDS COMMAND...: until the command succeeds or time is up.
wait_for() {
	n=$(($1 * 5))
	shift
	i=0
	while ! "$@"; do
		i=$((i + 1))
		[ $i -ge $n ] && return 1
		sleep 0.2
	done
	return 0
}
rules_json() {
	"$NEXUSCTL" rules -c "$CFG" --state "$DB" --format json 2>"$W/rules.err"
}
# rules_jq FILTER: true when the filter holds on `rules --format json`.
rules_jq() {
	rules_json >"$W/rules.json" &&
	    jq -e "$1" "$W/rules.json" >/dev/null 2>&1
}
jobs_jq() {
	"$NEXUSCTL" jobs --state "$DB" --format json --limit 0 \
	    >"$W/jobs.json" 2>"$W/jobs.err" &&
	    jq -e "$1" "$W/jobs.json" >/dev/null 2>&1
}

cat >"$W/inv.json" <<EOF
{ "nodes": [
  {"name": "n1", "address": "127.0.1.1", "groups": ["g"]},
  {"name": "n2", "address": "127.0.1.2", "groups": ["g"]},
  {"name": "n3", "address": "127.0.1.3", "groups": ["g"]} ] }
EOF
cat >"$CFG" <<EOF
{ "demo": { "enabled": false, "local": false },
  "checks": { "interval": "1s", "retry_interval": "1s", "max_attempts": 1,
    "define": [ { "name": "down", "kind": "plugin", "target": "@g",
      "command": ["/bin/sh", "-c", "echo CRITICAL - down; exit 2"] } ] },
  "actions": { "define": [
    { "name": "nofix", "kind": "local", "timeout": "10s",
      "command": "echo looked at \$HOSTNAME\$" } ] },
  "remediation": { "rules": [
    { "name": "nf", "check": "^down\$", "target": "@g", "action": "nofix",
      "mode": "auto", "cooldown": "1s",
      "breaker": { "runs": 2, "window": "10m" } } ] } }
EOF

# ---------------------------------------------------------------------------
# 1. a running engine
start_engine
if wait_for 10 test -s "$DB.remed.json" &&
   jq -e --argjson p "$ENGINE_PID" '.pid == $p and .running == true' \
    "$DB.remed.json" >/dev/null; then
	pass "STATE.remed.json written with the engine's pid"
else
	fail "no STATE.remed.json with pid $ENGINE_PID"
fi
if wait_for 20 rules_jq '.running == true and .rules[0].name == "nf" and
    .rules[0].counts.jobs >= 1 and .pid != null and .age_s != null'; then
	pass "rules --format json: running, the rule's jobs ($(jq -c '.rules[0].counts' "$W/rules.json"))"
else
	fail "rules shows no jobs: $(cat "$W/rules.json" "$W/rules.err")"
fi
if wait_for 30 rules_jq '.rules[0].open | length == 3'; then
	pass "rules --format json: breaker open on $(jq -c '[.rules[0].open[].node]' "$W/rules.json")"
else
	fail "no open breakers: $(cat "$W/rules.json")"
fi
if jq -e '.rules[0].counts.not_recovered >= 6 and
    .rules[0].counts.recovered == 0 and .rules[0].counts.jobs == 6 and
    .rules[0].mode == "auto"' "$W/rules.json" >/dev/null; then
	pass "rules: 6 jobs, 6 not recovered, none recovered"
else
	fail "rule counts: $(jq -c '.rules[0].counts' "$W/rules.json")"
fi
"$NEXUSCTL" rules -c "$CFG" --state "$DB" >"$W/rules.txt" 2>&1
if grep -q "^engine pid $ENGINE_PID running" "$W/rules.txt" &&
   grep -Eq '^nf: auto, enabled, running 0/4, tokens -, jobs 6, recovered 0, not recovered 6, open 3 \(n\[1-3\]\), refused ' "$W/rules.txt"; then
	pass "rules (text): $(grep '^nf:' "$W/rules.txt")"
else
	fail "rules text: $(cat "$W/rules.txt")"
fi
if wait_for 10 jobs_jq 'length == 6 and
    all(.[]; .state == "succeeded" and .action == "nofix" and
        .origin == "rule:nf" and .user == "nexusctl" and
        .outcome == "not_recovered" and .hosts == 1 and .ok == 1 and
        .created != null) and
    ([.[].target] | sort) == ["n1", "n1", "n2", "n2", "n3", "n3"]'; then
	pass "jobs --format json: 6 jobs, succeeded, origin rule:nf, outcome not_recovered, 2 per node"
else
	fail "jobs json: $(cat "$W/jobs.json" "$W/jobs.err")"
fi
"$NEXUSCTL" jobs --state "$DB" >"$W/jobs.txt" 2>&1
if [ "$(grep -c ' succeeded  nofix on n[123]: 1/1 (1 ok, 0 failed, 0 error, 0 cancelled), rule:nf by nexusctl, outcome not_recovered$' "$W/jobs.txt")" -eq 6 ]; then
	pass "jobs (text): $(head -1 "$W/jobs.txt")"
else
	fail "jobs text: $(cat "$W/jobs.txt")"
fi
"$NEXUSCTL" jobs --state "$DB" 1 >"$W/job1.txt" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -q ': queued 0/1 ' "$W/job1.txt" &&
   grep -q ': running 0/1 ' "$W/job1.txt" &&
   grep -q ': succeeded 1/1 ' "$W/job1.txt" &&
   grep -q 'job 1 rule nf action nofix on n[123]: outcome not_recovered' "$W/job1.txt"; then
	pass "jobs 1: queued, running, succeeded, outcome"
else
	fail "jobs 1 (exit $rc): $(cat "$W/job1.txt")"
fi
"$NEXUSCTL" jobs --state "$DB" --limit 2 >"$W/jobs2.txt" 2>&1
if [ "$(wc -l <"$W/jobs2.txt")" -eq 2 ] && grep -q '^    6 ' "$W/jobs2.txt"; then
	pass "jobs --limit 2: the last two"
else
	fail "jobs --limit 2: $(cat "$W/jobs2.txt")"
fi
"$NEXUSCTL" jobs --state "$DB" 99 >"$W/job99.txt" 2>&1
rc=$?
if [ $rc -eq 1 ] && grep -q 'no job 99' "$W/job99.txt"; then
	pass "jobs 99: no such job, exit 1"
else
	fail "jobs 99 (exit $rc): $(cat "$W/job99.txt")"
fi

# ---------------------------------------------------------------------------
# 4. changes go to the engine's process through its control socket
# (engine/ctl.c; tests/integration/ctl.sh tests it in depth)
for args in "reset nf n1" "enable nf" "disable nf"; do
	# shellcheck disable=SC2086
	timeout 30 "$NEXUSCTL" rules --state "$DB" $args >"$W/ctl.txt" 2>&1
	rc=$?
	if [ $rc -eq 0 ] && grep -q "^rule nf: " "$W/ctl.txt"; then
		pass "rules $args: done by the running engine"
	else
		fail "rules $args (exit $rc): $(cat "$W/ctl.txt")"
	fi
done

# ---------------------------------------------------------------------------
# 2. stopped: the file goes, rules come from the configuration
engine_stop
if [ "$ENGINE_RC" -eq 0 ] && [ ! -e "$DB.remed.json" ]; then
	pass "SIGTERM: exit 0, STATE.remed.json removed"
else
	fail "after SIGTERM: exit $ENGINE_RC, $(ls "$W")"
fi
"$NEXUSCTL" rules -c "$CFG" --state "$DB" >"$W/rules.txt" 2>&1
if grep -q '^engine not running: no ' "$W/rules.txt" &&
   grep -q '^nf: auto, enabled, action nofix, not running$' "$W/rules.txt" &&
   rules_jq '.running == false and .source == "config" and .pid == null and
    .rules[0].name == "nf" and .rules[0].breaker.runs == 2'; then
	pass "not running: the configuration's rules"
else
	fail "rules not running: $(cat "$W/rules.txt" "$W/rules.json")"
fi
timeout 30 "$NEXUSCTL" rules --state "$DB" reset nf n1 >"$W/ctl.txt" 2>&1
rc=$?
if [ $rc -eq 69 ] && grep -q "no engine is running" "$W/ctl.txt"; then
	pass "rules reset with no engine: exit 69"
else
	fail "rules reset, no engine (exit $rc): $(cat "$W/ctl.txt")"
fi
# A stale file (an engine killed with -9): its pid is gone.
sh -c 'exit 0' &
dead=$!
wait $dead
printf '{"running": true, "pid": %d, "updated": %d, "rules": []}\n' \
    "$dead" "$(($(date +%s) - 300))" >"$DB.remed.json"
"$NEXUSCTL" rules -c "$CFG" --state "$DB" >"$W/rules.txt" 2>&1
if grep -q "^engine not running: pid $dead of .* is gone (file written 5 min ago)" "$W/rules.txt" &&
   rules_jq ".running == false and .pid == $dead and .age_s >= 299 and
    .rules[0].name == \"nf\""; then
	pass "stale STATE.remed.json: not running, its pid and age"
else
	fail "stale file: $(cat "$W/rules.txt" "$W/rules.json")"
fi
rm -f "$DB.remed.json"
if jobs_jq 'length == 6'; then
	pass "jobs after the engine stopped: 6"
else
	fail "jobs after stop: $(cat "$W/jobs.json" "$W/jobs.err")"
fi
"$NEXUSCTL" jobs --state "$W/missing.db" >/dev/null 2>&1
rc=$?
if [ $rc -eq 78 ]; then
	pass "jobs on a missing store: exit 78"
else
	fail "jobs on a missing store: exit $rc"
fi

# ---------------------------------------------------------------------------
# 3. a second run: ids start at 1 again, both runs' jobs are listed
start_engine
if wait_for 20 jobs_jq 'length >= 7 and ([.[] | select(.id == 1)] | length) == 2 and
    ([.[] | select(.id == 1) | .created] | unique | length) == 2'; then
	pass "second run: job 1 twice, told apart by creation time ($(jq length "$W/jobs.json") jobs)"
else
	fail "second run: $(cat "$W/jobs.json" "$W/jobs.err")"
fi
"$NEXUSCTL" jobs --state "$DB" 1 >"$W/job1.txt" 2>&1
if [ "$(grep -c '^ *1  ' "$W/job1.txt")" -eq 2 ]; then
	pass "jobs 1 shows both runs' job 1"
else
	fail "jobs 1 after a restart: $(cat "$W/job1.txt")"
fi
engine_stop

summary

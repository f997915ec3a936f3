#!/bin/sh
# remed.sh - remediation rules end to end with the real binary
# (`nexusctl engine --state FILE`, headless) and real processes:
#
#  1. burst: 200 inventory nodes whose local plugin check always fails;
#     two auto rules run a local action that records its start and end
#     times; the global and per-rule concurrency and the token buckets
#     must hold (max overlap, starts over every window).  No SSH.
#  2. the SSH lab (tests/integration/sshlab.sh): 20 hosts with
#     nexus_transport ssh and a `flag` ssh check, CRITICAL while a flag
#     file named after the address the remote shell reads from
#     $SSH_CONNECTION exists; an auto rule runs the `fix` ssh action that
#     removes it: every flag goes, the checks recover, the jobs say
#     "outcome recovered", audit rows exist and `nexusctl audit verify`
#     is ok.
#  3. a fix that does not fix: the breaker opens after `runs` runs on each
#     node, and no more jobs start.
#
# The SSH part needs root, /usr/sbin/sshd and unshare (else only part 1
# runs).  Exit: 0 pass, 1 fail, 77 skip.  Every wait is bounded.

set -u
: "${NEXUSCTL:?}" "${TOP_SRCDIR:?}"
command -v sqlite3 >/dev/null 2>&1 || { echo "SKIP: no sqlite3"; exit 77; }
. "$TOP_SRCDIR/tests/integration/sshlab.sh"

. "$TOP_SRCDIR/tests/integration/lib.sh"
fail_context() {
	[ -f "$W/err" ] && { echo "--- engine log"; tail -c 3000 "$W/err"; }
}

# start_engine CONFIG INVENTORY STATE: `nexusctl engine` in the background.
start_engine() {
	engine_start "$W/err" -c "$1" -i "$2" --state "$3"
}
# q STATE SQL: one value from the store (read-only, while it runs too).
q() {
	sqlite3 -readonly -cmd '.timeout 5000' "$1" "$2" 2>/dev/null
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

# ---------------------------------------------------------------------------
# 1. burst of 200 failing hosts (outside the lab: local processes only)
if [ -z "${NXLAB_IN_NS:-}" ]; then
	W=$(mktemp -d "${TMPDIR:-/tmp}/nx-remed.XXXXXX") || exit 1
	trap 'engine_stop; rm -rf "$W"' EXIT
	trap 'exit 1' INT TERM
	export XDG_CONFIG_HOME="$W/config" XDG_STATE_HOME="$W/state"
	{
		echo '{ "nodes": ['
		i=1
		while [ $i -le 200 ]; do
			g=a
			[ $i -gt 100 ] && g=b
			sep=,
			[ $i -eq 200 ] && sep=
			printf '{"name": "h%03d", "address": "127.0.1.%d", "groups": ["%s"]}%s\n' \
			    $i $((i % 250)) $g "$sep"
			i=$((i + 1))
		done
		echo '] }'
	} >"$W/inv.json"
	LOG="$W/times"
	: >"$LOG"
	# Rule a: 3 at once, 60 a minute (burst 3); rule b: 4 at once; all
	# rules: 5 at once, 120 a minute (burst 5).  Cooldown 1 h: one job a
	# node, so the limits, not the nodes, decide.
	cat >"$W/burst.json" <<EOF
{ "demo": { "enabled": false, "local": false },
  "checks": { "interval": "2s", "retry_interval": "1s", "max_attempts": 1,
    "define": [ { "name": "down", "kind": "plugin", "target": "@a,@b",
      "command": ["/bin/sh", "-c", "echo CRITICAL - down; exit 2"] } ] },
  "actions": { "define": [
    { "name": "rec-a", "kind": "local", "timeout": "10s", "concurrency": 1,
      "command": "echo start \$\$(date +%s.%N) a \$HOSTNAME\$ >>$LOG; sleep 0.4; echo end \$\$(date +%s.%N) a \$HOSTNAME\$ >>$LOG" },
    { "name": "rec-b", "kind": "local", "timeout": "10s", "concurrency": 1,
      "command": "echo start \$\$(date +%s.%N) b \$HOSTNAME\$ >>$LOG; sleep 0.4; echo end \$\$(date +%s.%N) b \$HOSTNAME\$ >>$LOG" } ] },
  "remediation": { "max_concurrent": 5, "rate": 120, "burst": 5, "rules": [
    { "name": "a", "check": "^down\$", "target": "@a", "action": "rec-a",
      "mode": "auto", "concurrency": 3, "rate": 60, "burst": 3,
      "cooldown": "1h" },
    { "name": "b", "check": "^down\$", "target": "@b", "action": "rec-b",
      "mode": "auto", "concurrency": 4, "cooldown": "1h" } ] } }
EOF
	start_engine "$W/burst.json" "$W/inv.json" "$W/burst.db"
	sleep 20
	engine_stop
	# Every start and end as "TIME +1|-1 RULE", sorted by time.
	awk '{ print $2, ($1 == "start" ? 1 : -1), $3 }' "$LOG" | sort -n \
	    >"$W/sweep"
	starts=$(grep -c '^start ' "$LOG")
	ends=$(grep -c '^end ' "$LOG")
	# Max overlap, in total and per rule.
	set -- $(awk '{ run[$3] += $2; tot += $2;
		if (run[$3] > max[$3]) max[$3] = run[$3];
		if (tot > mt) mt = tot }
		END { print mt + 0, max["a"] + 0, max["b"] + 0 }' "$W/sweep")
	max_all=$1 max_a=$2 max_b=$3
	# Token buckets: in every window [t_i, t_j] of starts, at most
	# burst + rate * (t_j - t_i) + 1 (the +1 for spawn jitter).
	# viol_all: global (5, 2/s); viol_a: rule a (3, 1/s).
	rate_check() {
		awk -v burst="$1" -v per_s="$2" '$2 == 1 && ($3 == R || R == "") {
			t[n++] = $1 }
			END { v = 0; worst = 0
			for (i = 0; i < n; i++) for (j = i; j < n; j++) {
				allow = burst + per_s * (t[j] - t[i]) + 1
				if (j - i + 1 > allow) v++
			}
			if (n > 1) span = t[n-1] - t[0]; else span = 0
			printf "%d %d %.1f\n", v, n, span }' R="$3" "$W/sweep"
	}
	set -- $(rate_check 5 2 "")
	viol_all=$1 n_all=$2 span_all=$3
	set -- $(rate_check 3 1 a)
	viol_a=$1 n_a=$2 span_a=$3
	echo "burst: $starts jobs started ($n_a rule a over ${span_a}s," \
	    "$n_all in all over ${span_all}s), max overlap $max_all" \
	    "(a $max_a, b $max_b)"
	if [ "$starts" -ge 20 ] && [ "$max_all" -le 5 ] && [ "$max_all" -ge 4 ] &&
	   [ "$max_a" -le 3 ] && [ "$max_b" -le 4 ] && [ "$max_a" -ge 2 ]; then
		pass "200 failing hosts: concurrency held (all $max_all <= 5, a $max_a <= 3, b $max_b <= 4)"
	else
		fail "concurrency under a burst ($starts starts, $ends ends, max $max_all a $max_a b $max_b)"
	fi
	# (The window from the first to the last start is one of the windows.)
	if [ "$viol_all" -eq 0 ] && [ "$viol_a" -eq 0 ] && [ "$n_a" -ge 5 ]; then
		pass "200 failing hosts: rate limits held (all: $n_all starts in ${span_all}s <= 5 + 2/s; a: $n_a in ${span_a}s <= 3 + 1/s)"
	else
		fail "rate limits under a burst (windows over: all $viol_all, a $viol_a; starts all $n_all, a $n_a)"
	fi
	# Refusals are visible: rule.job audit rows match the starts.
	rows=$(q "$W/burst.db" "SELECT count(*) FROM audit WHERE action = 'rule.job' AND result = 'queued'")
	if [ "${rows:-0}" -ge "$starts" ] && [ "${rows:-0}" -le $((starts + 5)) ] &&
	   "$NEXUSCTL" audit verify --state "$W/burst.db" >/dev/null 2>&1; then
		pass "an audit row per rule-started job ($rows), chain intact"
	else
		fail "audit rows of the burst (${rows:-none} rows for $starts starts)"
	fi
	engine_stop
	rm -rf "$W"
	trap - EXIT
	REMED_BURST_PASSES=$passes REMED_BURST_FAILS=$fails
	export REMED_BURST_PASSES REMED_BURST_FAILS
	if ! (lab_require) >/dev/null 2>&1; then
		echo "SKIP (lab): $( (lab_require) 2>&1 | tail -1)"
		[ "$fails" -eq 0 ] || exit 1
		exit 0
	fi
fi

# ---------------------------------------------------------------------------
# 2 and 3: the SSH lab
lab_require
lab_enter "$TOP_SRCDIR/tests/integration/remed.sh" "$@"
passes=${REMED_BURST_PASSES:-0}
fails=${REMED_BURST_FAILS:-0}
lab_setup
W=$LAB
cleanup() {
	engine_stop
	lab_cleanup
}
trap cleanup EXIT
trap 'exit 1' INT TERM
export XDG_CONFIG_HOME="$LAB/config" XDG_STATE_HOME="$LAB/state"
unset SSH_AUTH_SOCK
lab_start
KH="$LAB/known_hosts"
lab_known_hosts "$KH" 20
export NEXUSCTL_SSH_IDENTITY="$LAB/id_ed25519" NEXUSCTL_SSH_KNOWN_HOSTS="$KH"
export NEXUSCTL_SSH_CONFIG=none

FLAGS="$LAB/flags"
mkdir -p "$FLAGS"
chown "$LAB_USER" "$FLAGS"
{
	echo '{ "nodes": ['
	i=1
	while [ $i -le 20 ]; do
		sep=,
		[ $i -eq 20 ] && sep=
		printf '{"name": "s%02d", "address": "127.0.0.%d", "port": %d, "user": "%s", "groups": ["lab"], "vars": {"nexus_transport": "ssh", "nexus_cores": 64}}%s\n' \
		    $i $i "$LAB_PORT" "$LAB_USER" "$sep"
		i=$((i + 1))
	done
	echo '] }'
} >"$LAB/inv.json"
set_flags() {
	i=1
	while [ $i -le 20 ]; do
		touch "$FLAGS/127.0.0.$i"
		i=$((i + 1))
	done
	chown "$LAB_USER" "$FLAGS"/*
}
# The remote shell names the flag after the address it was reached at.
FLAGCMD="f=$FLAGS/\$\$(echo \$\$SSH_CONNECTION | cut -d' ' -f3); if test -e \$\$f; then echo CRITICAL - flag \$\$f; exit 2; fi; echo OK - no flag"
FIXCMD="rm -f $FLAGS/\$\$(echo \$\$SSH_CONNECTION | cut -d' ' -f3)"
# lab_config ACTION RULE-EXTRA: the configuration with one auto rule.
lab_config() {
	cat <<EOF
{ "demo": { "enabled": false, "local": false },
  "checks": { "interval": "2s", "retry_interval": "1s", "max_attempts": 2,
    "timeout": "10s",
    "define": [ { "name": "flag", "kind": "ssh", "target": "@lab",
      "command": "$FLAGCMD" } ] },
  "actions": { "define": [
    { "name": "fix", "kind": "ssh", "command": "$FIXCMD", "timeout": "10s" },
    { "name": "nofix", "kind": "ssh", "command": "echo looked", "timeout": "10s" } ] },
  "remediation": { "max_concurrent": 10, "rate": 600, "burst": 20, "rules": [
    { "name": "fix-flag", "check": "^flag\$", "states": ["critical"],
      "target": "@lab", "action": "$1", "mode": "auto", "concurrency": 10,
      $2 } ] } }
EOF
}

# --- 2. 20 hosts, the fix fixes
set_flags
lab_config fix '"cooldown": "5s"' >"$LAB/fix.json"
S="$LAB/fix.db"
flags_gone() { [ -z "$(ls -A "$FLAGS")" ]; }
recovered20() {
	[ "$(q "$S" "SELECT count(*) FROM events WHERE kind = 'job' AND payload LIKE '%: outcome recovered (flag OK)%'")" -ge 20 ] 2>/dev/null
}
t0=$(date +%s)
start_engine "$LAB/fix.json" "$LAB/inv.json" "$S"
wait_for 60 flags_gone
gone=$?
wait_for 30 recovered20
rec=$?
secs=$(($(date +%s) - t0))
sleep 1
engine_stop
# The last result of every flag check is OK.
ok_last=$(q "$S" "SELECT count(*) FROM events e WHERE kind = 'result' AND \"check\" = 'flag' AND payload LIKE '%\"state\":\"OK\"%' AND seq = (SELECT max(seq) FROM events WHERE kind = 'result' AND \"check\" = 'flag' AND node = e.node)")
outcomes=$(q "$S" "SELECT count(DISTINCT node) FROM events WHERE kind = 'job' AND payload LIKE '%rule fix-flag action fix on s__: outcome recovered (flag OK)%'")
not_rec=$(q "$S" "SELECT count(*) FROM events WHERE kind = 'job' AND payload LIKE '%outcome not_recovered%'")
jobrows=$(q "$S" "SELECT count(DISTINCT target) FROM audit WHERE action = 'rule.job' AND result = 'queued' AND role = 'engine' AND who = 'nexusctl'")
outrows=$(q "$S" "SELECT count(*) FROM audit WHERE action = 'rule.outcome' AND result = 'recovered'")
if [ $gone -eq 0 ] && [ $rec -eq 0 ] && [ "$ok_last" = 20 ] &&
   [ "$outcomes" = 20 ] && [ "$not_rec" = 0 ]; then
	pass "20 ssh hosts: every flag removed by the rule, checks OK, 20 jobs 'outcome recovered' (${secs}s)"
else
	fail "remediation over ssh (flags gone $gone, recovered events $rec, last OK $ok_last, outcomes $outcomes, not recovered $not_rec)"
	ls "$FLAGS"
fi
if [ "$jobrows" = 20 ] && [ "$outrows" -ge 20 ] &&
   "$NEXUSCTL" audit verify --state "$S" >"$LAB/verify" 2>&1; then
	pass "audit: a rule.job row per host as nexusctl/engine, 20 outcome rows, chain verified"
else
	fail "audit rows ($jobrows job hosts, $outrows outcomes): $(cat "$LAB/verify")"
fi

# --- 3. a fix that does not fix: the breaker opens, remediation stops
set_flags
lab_config nofix '"cooldown": 0, "breaker": { "runs": 2, "window": "10m" }' \
    >"$LAB/nofix.json"
S="$LAB/nofix.db"
open20() {
	[ "$(q "$S" "SELECT count(DISTINCT node) FROM events WHERE kind = 'rule' AND payload LIKE '%breaker open on s__ after 2 runs within 10m without recovery%'")" -ge 20 ] 2>/dev/null
}
start_engine "$LAB/nofix.json" "$LAB/inv.json" "$S"
wait_for 60 open20
opened=$?
jobs_at_open=$(q "$S" "SELECT count(*) FROM audit WHERE action = 'rule.job' AND result = 'queued'")
# Checks keep failing for 6 s more (3 intervals): no job may start.
sleep 6
engine_stop
jobs_after=$(q "$S" "SELECT count(*) FROM audit WHERE action = 'rule.job' AND result = 'queued'")
per_node=$(q "$S" "SELECT min(c) || ' ' || max(c) FROM (SELECT target, count(*) AS c FROM audit WHERE action = 'rule.job' GROUP BY target)")
open_rows=$(q "$S" "SELECT count(*) FROM audit WHERE action = 'rule.breaker_open' AND result = 'open'")
not_rec=$(q "$S" "SELECT count(*) FROM events WHERE kind = 'job' AND payload LIKE '%outcome not_recovered%'")
left=$(ls "$FLAGS" | wc -l)
if [ $opened -eq 0 ] && [ "$jobs_at_open" = 40 ] && [ "$jobs_after" = 40 ] &&
   [ "$per_node" = "2 2" ] && [ "$open_rows" = 20 ] && [ "$not_rec" = 40 ] &&
   [ "$left" = 20 ] && "$NEXUSCTL" audit verify --state "$S" >/dev/null 2>&1; then
	pass "a fix that does not fix: breaker open on 20 hosts after 2 runs each, then no more jobs (40 = 40)"
else
	fail "breaker (opened $opened, jobs $jobs_at_open then $jobs_after, per node '$per_node', open rows $open_rows, not recovered $not_rec, flags left $left)"
fi

summary

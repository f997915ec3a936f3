#!/bin/sh
# ssh-adopt.sh - the ssh provider follows a live inventory reload, against
# a real sshd (tests/integration/sshlab.sh).  `nexusctl engine --state`
# starts on 5 nodes with `nexus_transport: ssh`; 5 more are added to the
# file (renamed over it, as editors save) -> all 10 UP through their SSH
# `ping`, with load samples, each over its own session; 3 are removed ->
# their sessions are closed (established connections counted with `ss`
# in the lab's namespace), the others keep theirs.  Events are read with
# `nexusctl watch --state`; every wait is bounded.
#
# Needs root, /usr/sbin/sshd, unshare, ss, jq and $NEXUSCTL.
# Exit: 0 pass, 1 fail, 77 skip.

set -u
: "${NEXUSCTL:?}" "${TOP_SRCDIR:?}"
. "$TOP_SRCDIR/tests/integration/sshlab.sh"
lab_require
command -v jq >/dev/null 2>&1 || lab_skip "jq is not installed"
command -v ss >/dev/null 2>&1 || lab_skip "ss (iproute2) is not installed"
lab_enter "$TOP_SRCDIR/tests/integration/ssh-adopt.sh" "$@"
LSAN_OPTIONS="suppressions=$TOP_SRCDIR/tests/integration/lsan-libssh2.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export LSAN_OPTIONS

lab_setup
ENGINE_PID=
WATCH_PID=
cleanup() {
	for p in $WATCH_PID $ENGINE_PID; do
		kill "$p" 2>/dev/null
	done
	lab_cleanup
}
trap cleanup EXIT
trap 'exit 1' INT TERM
export XDG_CONFIG_HOME="$LAB/config" XDG_STATE_HOME="$LAB/state"
unset SSH_AUTH_SOCK
lab_start

. "$TOP_SRCDIR/tests/integration/lib.sh"
fail_context() {
	echo "--- engine"; tail -c 2000 "$LAB/engine.err"
}

KH="$LAB/known_hosts"
lab_known_hosts "$KH" 11
export NEXUSCTL_SSH_IDENTITY="$LAB/id_ed25519" NEXUSCTL_SSH_KNOWN_HOSTS="$KH"
export NEXUSCTL_SSH_CONFIG=none
INV="$LAB/inv.json"
# inventory FIRST LAST: nodes a01.. with addresses 127.0.0.FIRST..LAST
# (a01 at 127.0.0.$A01), written to a new file renamed over $INV.
A01=1
inventory() {
	{
		echo '{ "nodes": ['
		i=$1
		while [ "$i" -le "$2" ]; do
			[ "$i" -gt "$1" ] && echo ','
			a=$i
			[ "$i" -eq 1 ] && a=$A01
			printf '{ "name": "a%02d", "address": "127.0.0.%d", "port": %d, "user": "%s", "groups": ["lab"], "vars": { "nexus_transport": "ssh", "nexus_cores": 64 } }' \
			    "$i" "$a" "$LAB_PORT" "$LAB_USER"
			i=$((i + 1))
		done
		echo '] }'
	} >"$LAB/.inv.json.new" && mv "$LAB/.inv.json.new" "$INV"
}
echo '{ "checks": { "interval": "1s", "retry_interval": "1s", "max_attempts": 1, "timeout": "5s" } }' \
    >"$LAB/conf.json"
inventory 1 5
DB="$LAB/state.db"
EV="$LAB/events"
"$NEXUSCTL" engine --state "$DB" -c "$LAB/conf.json" -i "$INV" \
    2>"$LAB/engine.err" &
ENGINE_PID=$!
i=0
while ! grep -q 'started' "$LAB/engine.err" 2>/dev/null && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
timeout 60 "$NEXUSCTL" watch --state "$DB" >"$EV" 2>"$LAB/watch.err" &
WATCH_PID=$!

# up NAMES...: how many of the nodes have an OK `ping` (SSH session up,
# sampler running) and an OK `load` result (a sample with the load
# average in its perfdata) after the last reload ($SINCE: event seq).
SINCE=0
up() {
	jq -r --argjson since "$SINCE" 'select(.seq > $since and .kind == "result" and .state == "OK" and
	    ((.check == "ping" and (.output | startswith("SSH OK - sampler running"))) or
	     (.check == "load" and (.output | test("\\|load=[0-9.]+;"))))) |
	    "\(.node) \(.check)"' "$EV" 2>/dev/null | sort -u |
	    awk '{ n[$1]++ } END { for (k in n) if (n[k] == 2) print k }' |
	    grep -c -x -F "$(printf '%s\n' "$@")"
}
# wait_up SECS NAMES...: until every node named is up.
wait_up() {
	secs=$1
	shift
	t=$(date +%s)
	while [ "$(up "$@")" -lt $# ]; do
		if [ $(($(date +%s) - t)) -ge "$secs" ] ||
		    ! kill -0 "$ENGINE_PID" 2>/dev/null; then
			return 1
		fi
		sleep 0.2
	done
	took=$(($(date +%s) - t))
}
last_seq() { tail -n 1 "$EV" | jq -r '.seq // 0' 2>/dev/null || echo 0; }
# sessions [ADDR]: established client connections to the lab port (to ADDR).
sessions() {
	if [ $# -gt 0 ]; then
		ss -Htn state established "( dport = :$LAB_PORT and dst $1 )"
	else
		ss -Htn state established "( dport = :$LAB_PORT )"
	fi | wc -l
}
# wait_sessions SECS N: until there are N.
wait_sessions() {
	t=$(date +%s)
	while [ "$(sessions)" -ne "$2" ]; do
		[ $(($(date +%s) - t)) -ge "$1" ] && return 1
		sleep 0.2
	done
}
names() { i=$1; while [ "$i" -le "$2" ]; do printf 'a%02d ' "$i"; i=$((i + 1)); done; }

if wait_up 15 $(names 1 5) && wait_sessions 5 5; then
	pass "5 SSH nodes UP with load samples at start ($(sessions) sessions)"
else
	fail "start: $(up $(names 1 5)) of 5 up, $(sessions) sessions"
fi

# Five more in the file: adopted live, each as a node present at start.
SINCE=$(last_seq)
inventory 1 10
if wait_up 15 $(names 1 10); then
	pass "5 added live: all 10 UP via their SSH ping with load samples in ${took}s"
else
	fail "added: $(up $(names 1 10)) of 10 up"
fi
if wait_sessions 5 10; then
	pass "one session per node: $(sessions) established"
else
	fail "sessions after the add: $(sessions), not 10"
fi
if jq -e -s '[.[] | select(.kind == "node" and .output == "added")] | map(.node) | sort == ["a06","a07","a08","a09","a10"]' "$EV" >/dev/null &&
   jq -e -s '[.[] | select(.kind == "config" and .output == "inventory reloaded: +5 -0 ~0 nodes")] | length == 1' "$EV" >/dev/null; then
	pass "events: 5 nodes added, one reload"
else
	fail "add events"
fi

# Three removed: their sessions are closed, the others stay up.
SINCE=$(last_seq)
inventory 1 7
t=$(date +%s)
if wait_sessions 5 7 && [ "$(sessions 127.0.0.8)$(sessions 127.0.0.9)$(sessions 127.0.0.10)" = 000 ]; then
	pass "3 removed: their sessions closed in $(($(date +%s) - t))s, 7 left"
else
	fail "removed: $(sessions) sessions"; ss -Htn state established
fi
if wait_up 10 $(names 1 7); then
	pass "the 7 kept nodes still sample over their sessions"
else
	fail "kept: $(up $(names 1 7)) of 7 up"
fi
sleep 1.5
SINCE=$(last_seq)
sleep 1.5
if [ "$(up a08 a09 a10)" -eq 0 ] &&
   [ -z "$(jq -r --argjson s "$SINCE" 'select(.seq > $s and (.node == "a08" or .node == "a09" or .node == "a10")) | .node' "$EV")" ] &&
   [ "$(sessions)" -eq 7 ]; then
	pass "removed nodes: no results, no reconnect"
else
	fail "removed nodes still active"
fi

# a01 moves to another address: adopted again, the old session closed.
SINCE=$(last_seq)
A01=11
inventory 1 7
t=$(date +%s)
while [ "$(sessions 127.0.0.1)$(sessions 127.0.0.11)" != 01 ] &&
    [ $(($(date +%s) - t)) -lt 5 ]; do
	sleep 0.2
done
changed() { jq -e -s '[.[] | select(.kind == "node" and .output == "changed")] | map(.node) == ["a01"]' "$EV" >/dev/null; }
if [ "$(sessions 127.0.0.1)$(sessions 127.0.0.11)" = 01 ] &&
   wait_up 10 a01 && [ "$(sessions)" -eq 7 ] &&
   { i=0; while ! changed && [ $i -lt 25 ]; do sleep 0.2; i=$((i + 1)); done; changed; }; then
	pass "a01's address changed: new session to 127.0.0.11, the old one closed, UP"
else
	fail "address change: $(sessions 127.0.0.1) old, $(sessions 127.0.0.11) new sessions, $(up a01) up"
	grep -F -e '"kind":"node"' -e '"kind":"config"' "$EV"
fi

kill -TERM "$ENGINE_PID"
i=0
while kill -0 "$ENGINE_PID" 2>/dev/null && [ $i -lt 50 ]; do
	sleep 0.2
	i=$((i + 1))
done
kill -KILL "$ENGINE_PID" 2>/dev/null
wait "$ENGINE_PID"
erc=$?
ENGINE_PID=
if [ $erc -eq 0 ]; then
	pass "engine stopped cleanly"
else
	fail "engine exit status $erc"
fi
summary

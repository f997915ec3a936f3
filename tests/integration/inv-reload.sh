#!/bin/sh
# inv-reload.sh - live inventory reload in the real headless engine:
# `nexusctl engine --state FILE -i hosts.ini` runs while the test edits
# hosts.ini as an editor does (a new file renamed over it): a node added,
# one removed, a var changed, the file broken (the old inventory stays,
# the error is an event and a warning naming file:line), and fixed.  The
# events are read back with `nexusctl watch --state`; every wait is
# bounded.
#
# Needs $NEXUSCTL (set by `make check`) and jq.
# Exit: 0 pass, 1 fail, 77 skip.

set -u
: "${NEXUSCTL:?}"
command -v jq >/dev/null 2>&1 || { echo "SKIP: jq is not installed"; exit 77; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/nx-inv-reload.XXXXXX") || exit 1
pid=
wpid=
cleanup() {
	[ -n "$wpid" ] && kill "$wpid" 2>/dev/null && wait "$wpid" 2>/dev/null
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
export XDG_CONFIG_HOME="$TMP/config" XDG_STATE_HOME="$TMP/state"

. "$TOP_SRCDIR/tests/integration/lib.sh"

INV="$TMP/hosts.ini"
DB="$TMP/state.db"

# edit TEXT: replaces hosts.ini by rename, as vim and most editors save.
edit() {
	printf '%s' "$1" >"$TMP/.hosts.ini.new" && mv "$TMP/.hosts.ini.new" "$INV"
}

# events: kind<TAB>node<TAB>output of the node and config events so far,
# from `nexusctl watch --state`, which follows the store the engine writes.
events() {
	jq -r 'select(.kind == "node" or .kind == "config") |
	    "\(.kind)\t\(.node // "-")\t\(.output)"' "$TMP/watch" 2>/dev/null
}

# wait_for PATTERN [SECONDS]: until a node/config event matches (grep -E).
wait_for() {
	i=0
	while [ $i -lt $(( ${2:-10} * 10 )) ]; do
		events | grep -Eq "$1" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# wait_for_json FILTER: until jq FILTER selects an event (5 s at most).
wait_for_json() {
	i=0
	while [ $i -lt 50 ]; do
		[ -n "$(jq -c "$1" "$TMP/watch" 2>/dev/null)" ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

edit '[web]
web1 ansible_host=192.0.2.1
web2 ansible_host=192.0.2.2
[db]
db1 role=primary
'
"$NEXUSCTL" engine --state "$DB" -i "$INV" 2>"$TMP/err" &
pid=$!
i=0
while ! grep -q 'started' "$TMP/err" 2>/dev/null && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
if grep -q 'started: 3 nodes' "$TMP/err"; then
	pass "engine started on 3 inventory nodes"
else
	fail "engine did not start"; cat "$TMP/err"; exit 1
fi
"$NEXUSCTL" watch --state "$DB" >"$TMP/watch" 2>"$TMP/watch.err" &
wpid=$!
sleep 0.5

# Added, removed, changed in one save.
edit '[web]
web1 ansible_host=192.0.2.1
web3 ansible_host=192.0.2.3
[db]
db1 role=replica
'
if wait_for '^config	-	inventory reloaded: \+1 -1 ~1 nodes$' &&
   events | grep -q '^node	web3	added$' &&
   events | grep -q '^node	web2	removed$' &&
   events | grep -q '^node	db1	changed$' &&
   ! events | grep -q '	web1	'; then
	pass "add web3, remove web2, change db1: events; web1 untouched"
else
	fail "first reload"; events; cat "$TMP/err"
fi

# The new node's check ran at once: its result is in the stream.
if wait_for_json 'select(.kind == "result" and .node == "web3")'; then
	pass "web3's check ran at once"
else
	fail "no result for web3"
fi

# Broken: the old inventory stays; an event and a warning with file:line.
edit '[web]
web1 ansible_host=192.0.2.1
[web:oops]
'
if wait_for '^config	-	inventory reload failed: .*hosts\.ini:3:.*the previous inventory stays$' &&
   grep -q "warning: inventory reload failed: .*hosts.ini:3:" "$TMP/err" &&
   ! events | grep -q '^node	web3	removed$' &&
   ! events | grep -q '^node	db1	removed$'; then
	pass "a broken file: event and warning with file:line, nothing removed"
else
	fail "broken file"; events; cat "$TMP/err"
fi

# Fixed: applied against the inventory that stayed.
edit '[web]
web1 ansible_host=192.0.2.1
web2 ansible_host=192.0.2.2
web3 ansible_host=192.0.2.3
'
if wait_for '^config	-	inventory reloaded: \+1 -1 ~0 nodes$' &&
   [ "$(events | grep -c '^node	web2	added$')" = 1 ] &&
   events | grep -q '^node	db1	removed$'; then
	pass "fixed: web2 back, db1 removed"
else
	fail "fixed file"; events; cat "$TMP/err"
fi

kill "$wpid"
wait "$wpid" 2>/dev/null
wpid=
kill "$pid"
wait "$pid"
rc=$?
pid=
if [ $rc -eq 0 ]; then
	pass "engine stopped cleanly"
else
	fail "engine exit status $rc"; cat "$TMP/err"
fi

summary

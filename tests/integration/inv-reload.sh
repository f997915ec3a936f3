#!/bin/sh
# inv-reload.sh - live inventory reload in the real headless engine:
# `nexusctl engine --state FILE -i hosts.ini` runs while the test edits
# hosts.ini as an editor does (a new file renamed over it): a node added,
# one removed, a var changed, the file broken (the old inventory stays,
# the error is an event and a warning naming file:line), and fixed.  The
# events are read back with `nexusctl watch --state`; every wait is
# bounded.  `nexusctl export --state` (json, csv, prometheus) lists no
# removed node after each reload, nor a check whose definition no longer
# selects its node (web3 leaving [web] loses the `webq` check of @web),
# while the engine runs and after it stopped.
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

# exported FORMAT: what `export --state` says, into $TMP/export.FORMAT:
# one line per node "NODE CHECK..." (json); the node and check columns
# (csv); the node labels (prometheus).
exported() {
	"$NEXUSCTL" export --state "$DB" --format "$1" >"$TMP/export.$1" \
	    2>"$TMP/export.err" || return 1
	case $1 in
	json) jq -r '.nodes[] | [.name, (.checks[] | .name)] | join(" ")' \
	    "$TMP/export.json" ;;
	csv) cut -d, -f1,2 "$TMP/export.csv" | sed 1d | tr '\n' ' ' ;;
	prometheus) grep -o 'node="[^"]*"' "$TMP/export.prometheus" |
	    sort -u | tr '\n' ' ' ;;
	esac
}

# export_is WANT_JSON WANT_CSV WANT_PROM: the three forms, 5 s at most
# (the snapshot a reload takes is committed with its group).
export_is() {
	i=0
	while [ $i -lt 50 ]; do
		[ "$(exported json | tr '\n' ';')" = "$1" ] &&
		    [ "$(exported csv)" = "$2" ] &&
		    [ "$(exported prometheus)" = "$3" ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	echo "json: $(exported json | tr '\n' ';')"
	echo "csv: $(exported csv)"
	echo "prometheus: $(exported prometheus)"
	return 1
}

# A check of the web group: a reload that takes a node out of [web]
# removes it from that node.
printf '%s\n' '{ "checks": { "define": [' \
    '  { "name": "webq", "kind": "plugin", "target": "@web",' \
    '    "command": ["/bin/true"] } ] } }' >"$TMP/config.json"

edit '[web]
web1 ansible_host=192.0.2.1
web2 ansible_host=192.0.2.2
[db]
db1 role=primary
'
"$NEXUSCTL" engine -c "$TMP/config.json" --state "$DB" -i "$INV" \
    2>"$TMP/err" &
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

if export_is 'db1 ping;web1 ping webq;web3 ping webq;' \
    'db1, db1,ping web1, web1,ping web1,webq web3, web3,ping web3,webq ' \
    'node="db1" node="web1" node="web3" '; then
	pass "export --state (json, csv, prometheus): web2 gone, web3 there"
else
	fail "export after the first reload"
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
if export_is 'web1 ping webq;web2 ping webq;web3 ping webq;' \
    'web1, web1,ping web1,webq web2, web2,ping web2,webq web3, web3,ping web3,webq ' \
    'node="web1" node="web2" node="web3" '; then
	pass "export --state: db1 gone, web2 back"
else
	fail "export after the fix"
fi

# web3 leaves [web]: it stays, its webq check goes.
edit '[web]
web1 ansible_host=192.0.2.1
web2 ansible_host=192.0.2.2
[other]
web3 ansible_host=192.0.2.3
'
want_json='web1 ping webq;web2 ping webq;web3 ping;'
want_csv='web1, web1,ping web1,webq web2, web2,ping web2,webq web3, web3,ping '
want_prom='node="web1" node="web2" node="web3" '
if wait_for '^config	-	inventory reloaded: \+0 -0 ~1 nodes$' &&
   export_is "$want_json" "$want_csv" "$want_prom"; then
	pass "export --state: web3 out of [web] has no webq check"
else
	fail "a check removed by a reload"; events
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
# The final snapshot: the same.
if export_is "$want_json" "$want_csv" "$want_prom"; then
	pass "export --state after the engine stopped: the same"
else
	fail "export after the stop"
fi

summary

#!/bin/sh
#
# parents.sh - UNREACHABLE through parents, end to end: an inventory
# declares `nexus_parents`, a configured tcp host check fails on every node
# (port 1 on loopback refuses), and `nexusctl check` must show the parent
# DOWN, its child UNREACHABLE (not DOWN), and an unrelated node DOWN.
# Bad parent declarations (unknown node, itself, a loop) are errors (78)
# that name the node.
#
set -u
: "${NEXUSCTL:?NEXUSCTL must name the nexusctl binary}"
command -v jq >/dev/null 2>&1 || { echo "SKIP: jq not found"; exit 77; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cat > "$TMP/hosts.ini" <<'INI'
[routers]
r1 ansible_host=127.0.0.9

[web]
w1 ansible_host=127.0.0.10 nexus_parents=r1
w2 ansible_host=127.0.0.11
INI
cat > "$TMP/config.json" <<'JSON'
{ "checks": { "define": [
  { "name": "reach", "kind": "tcp", "target": "@all", "port": 1,
    "timeout": "5s", "host_check": true } ] } }
JSON

out=$("$NEXUSCTL" check -c "$TMP/config.json" -i "$TMP/hosts.ini" \
    --format json) 
state() { printf '%s' "$out" | jq -r --arg n "$1" \
    '.nodes[] | select(.name == $n) | .host_state'; }
[ "$(state r1)" = DOWN ] || fail "r1 is $(state r1), wanted DOWN"
[ "$(state w1)" = UNREACHABLE ] || fail "w1 is $(state w1), wanted UNREACHABLE"
[ "$(state w2)" = DOWN ] || fail "w2 is $(state w2), wanted DOWN"

# Bad declarations.
expect_error() {
	printf '%s\n' "$1" > "$TMP/bad.ini"
	"$NEXUSCTL" check -i "$TMP/bad.ini" > /dev/null 2> "$TMP/err"
	rc=$?
	[ $rc -eq 78 ] || fail "$2: exit $rc, wanted 78"
	grep -q "$2" "$TMP/err" || fail "wanted '$2', got: $(cat "$TMP/err")"
}
expect_error "$(printf '[a]\nx nexus_parents=zz')" "node x: nexus_parents: no node named 'zz'"
expect_error "$(printf '[a]\nx nexus_parents=x')" "node x: nexus_parents: a node cannot be its own parent"
expect_error "$(printf '[a]\nx nexus_parents=y\ny nexus_parents=x')" "a loop of parents"

echo "PASS: parents"

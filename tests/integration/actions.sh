#!/bin/sh
# actions.sh - defined actions through `nexusctl run ACTION` against the
# SSH lab (tests/integration/sshlab.sh): 20 hosts; vars and inputs full of
# shell metacharacters arrive byte for byte as data and create nothing; an
# input failing its pattern stops the action before anything runs; a
# local action; confirmation; --dry-run shows the commands and runs
# nothing; a viewer is refused and the refusal is an audit row of a chain
# that verifies.
#
# Needs root, /usr/sbin/sshd, unshare, jq and $NEXUSCTL.  Exit: 0 pass,
# 1 fail, 77 skip.

set -u
: "${NEXUSCTL:?}" "${TOP_SRCDIR:?}"
. "$TOP_SRCDIR/tests/integration/sshlab.sh"
lab_require
command -v jq >/dev/null 2>&1 || lab_skip "jq is not installed"
lab_enter "$TOP_SRCDIR/tests/integration/actions.sh" "$@"

lab_setup
# Files the hostile strings would create if a shell ever ran them: in /tmp,
# where the remote user (and we) could write them.
M="/tmp/nx-actions.$$"
cleanup() {
	rm -f "$M".x "$M".y "$M".z "$M".w
	lab_cleanup
}
trap cleanup EXIT
trap 'exit 1' INT TERM
export XDG_CONFIG_HOME="$LAB/config" XDG_STATE_HOME="$LAB/state"
unset SSH_AUTH_SOCK
lab_start

. "$TOP_SRCDIR/tests/integration/lib.sh"
fail_context() {
	echo "--- stdout"; head -c 3000 "$LAB/out"
	echo "--- stderr"; head -c 3000 "$LAB/err"
}
no_marks() { [ ! -e "$M.x" ] && [ ! -e "$M.y" ] && [ ! -e "$M.z" ] && [ ! -e "$M.w" ]; }
logins() { grep -c "Accepted publickey" "$LAB/sshd.log"; }

KH="$LAB/known_hosts"
lab_known_hosts "$KH" 20
STATE="$LAB/state.db"

# The hostile var: every host gets it; the remote side prints it back.
HOSTILE="\$(touch $M.x) '; touch $M.y; ' \`touch $M.z\` \"q\" & | ; > $M.w \\ it's"
i=1
nodes=""
while [ $i -le 20 ]; do
	n=$(printf 'lab%02d' $i)
	nodes="$nodes$(jq -nc --arg n "$n" --arg a "127.0.0.$i" --argjson p "$LAB_PORT" \
	    --arg u "$LAB_USER" --arg m "$HOSTILE" \
	    '{name: $n, address: $a, port: $p, user: $u, groups: ["lab"], vars: {msg: $m}}')"
	[ $i -lt 20 ] && nodes="$nodes,"
	i=$((i + 1))
done
printf '{"nodes": [%s]}\n' "$nodes" >"$LAB/inv.json"

cat >"$LAB/conf.json" <<EOF
{ "demo": { "enabled": false, "local": false },
  "actions": { "define": [
    { "name": "echo-var", "kind": "ssh", "target": "@lab",
      "description": "print the host's msg var",
      "command": "printf '%s\\\\n' \$VAR:msg\$; echo \$HOSTNAME\$ \$\$SSH_CONNECTION | cut -d' ' -f1,4" },
    { "name": "echo-input", "kind": "ssh", "target": "@lab",
      "command": "printf '[%s]\\\\n' \$INPUT:text\$",
      "inputs": [ { "name": "text", "description": "any printable text" } ] },
    { "name": "restart", "kind": "ssh", "target": "@lab", "confirm": true,
      "command": "touch $M.w; echo restarting \$INPUT:unit\$",
      "inputs": [ { "name": "unit", "pattern": "[a-z0-9@._-]+", "default": "nginx" } ] },
    { "name": "note", "kind": "local",
      "command": "echo \$HOSTNAME\$ \$\$NEXUS_HOSTADDRESS >> \$INPUT:file\$",
      "inputs": [ { "name": "file" } ] }
  ] } }
EOF
# nx ARGS... : nexusctl run with the lab's SSH settings, bounded.
nx() {
	t0=$(date +%s)
	timeout 60 "$NEXUSCTL" run -c "$LAB/conf.json" -i "$LAB/inv.json" \
	    --state "$STATE" "$@" -F none --identity "$LAB/id_ed25519" \
	    --known-hosts "$KH" --no-agent </dev/null >"$LAB/out" 2>"$LAB/err"
	rc=$?
	secs=$(($(date +%s) - t0))
}

# --- run --list
nx --list
if [ $rc -eq 0 ] && grep -q '^echo-var  *ssh  *@lab  *operator' "$LAB/out" &&
   grep -q '^restart .* unit=nginx  \[confirm\]' "$LAB/out"; then
	pass "run --list names the actions, kinds, targets, roles, inputs"
else
	fail "run --list (rc=$rc)"
fi

# --- a var full of shell metacharacters, on 20 hosts, arrives as data
nx echo-var -t @lab --format json
want=$(printf '%s' "$HOSTILE")
got_ok=$(jq -r '.ok' "$LAB/out")
bad=0
i=1
while [ $i -le 20 ]; do
	n=$(printf 'lab%02d' $i)
	out=$(jq -r --arg n "$n" '.results[] | select(.names | index($n)) | .stdout' "$LAB/out")
	[ "$out" = "$want
$n 127.0.0.$i" ] || { bad=$((bad + 1)); echo "  $n: $out"; }
	i=$((i + 1))
done
if [ $rc -eq 0 ] && [ "$got_ok" = 20 ] && [ $bad -eq 0 ] && no_marks; then
	pass "hostile var reached 20 hosts byte for byte, nothing created (${secs}s)"
else
	fail "hostile var (rc=$rc, ok=$got_ok, bad=$bad)"
fi

# --- hostile inputs: each one word of data
for v in "\$(touch $M.x)" "'; touch $M.y; '" "\`touch $M.z\`" "a;b|c&d>$M.w"; do
	nx echo-input -t 'lab[01-03]' -i "text=$v"
	if [ $rc -eq 0 ] && [ "$(grep -c "^\[$(printf '%s' "$v" | sed 's/[][\\.*^$]/\\&/g')\]\$" "$LAB/out")" -eq 1 ] &&
	   grep -qx 'lab\[01-03\] (3)' "$LAB/out" && no_marks; then
		pass "input $v arrived as data"
	else
		fail "hostile input $v (rc=$rc)"
	fi
done

# --- an input failing its pattern: a clear error, nothing runs
before=$(logins)
nx restart -t @lab --yes -i 'unit=nginx; touch /tmp/pwned'
if [ $rc -eq 65 ] &&
   grep -q 'input unit: value "nginx; touch /tmp/pwned" does not match the pattern \[a-z0-9@._-\]+' "$LAB/err" &&
   [ "$(logins)" -eq "$before" ] && no_marks; then
	pass "an input failing its pattern stops the action before anything runs"
else
	fail "bad input (rc=$rc)"
fi

# --- confirm: no terminal and no --yes refuses; --yes runs
nx restart -t 'lab[01-02]'
if [ $rc -eq 64 ] && grep -q 'give --yes' "$LAB/err" && [ "$(logins)" -eq "$before" ]; then
	pass "an action asking for confirmation needs --yes without a terminal"
else
	fail "confirm without --yes (rc=$rc)"
fi

# --- --dry-run: the expanded commands, nothing run
nx echo-var -t 'lab[01-02]' --dry-run
if [ $rc -eq 0 ] && grep -q "^lab01 (1): dry run, not run" "$LAB/out" &&
   grep -qF "printf '%s\n' '\$(touch $M.x) '\\''; touch $M.y; '\\''" "$LAB/out" &&
   grep -qF "echo 'lab02' \$SSH_CONNECTION" "$LAB/out" &&
   [ "$(logins)" -eq "$before" ] && no_marks; then
	pass "--dry-run shows the expanded, quoted commands and runs nothing"
else
	fail "--dry-run (rc=$rc)"
fi

# --- a local action, once per node, with the node's data
nx note -t @lab -i "file=$LAB/notes"
if [ $rc -eq 0 ] && [ "$(wc -l <"$LAB/notes")" -eq 20 ] &&
   grep -qx 'lab07 127.0.0.7' "$LAB/notes"; then
	pass "local action: 20 runs with \$HOSTNAME\$ and NEXUS_HOSTADDRESS"
else
	fail "local action (rc=$rc)"
fi

# --- on a terminal it asks, and the default is no
tty_run() {
	printf "$1" | timeout 60 script -qec "$NEXUSCTL run -c $LAB/conf.json \
	    -i $LAB/inv.json --state $STATE restart -t lab[01-02] -F none \
	    --identity $LAB/id_ed25519 --known-hosts $KH --no-agent" /dev/null \
	    >"$LAB/out" 2>"$LAB/err"
	rc=$?
}
if command -v script >/dev/null 2>&1; then
	before=$(logins)
	tty_run '\n'
	if [ $rc -eq 1 ] && grep -q 'Run restart on 2 nodes (lab\[01-02\])? \[y/N\]' "$LAB/out" &&
	   grep -q 'not confirmed: nothing ran' "$LAB/out" &&
	   [ "$(logins)" -eq "$before" ] && [ ! -e "$M.w" ]; then
		pass "on a terminal the action asks; Enter (no) runs nothing"
	else
		fail "terminal confirm, default no (rc=$rc)"
	fi
	tty_run 'y\n'
	if [ $rc -eq 0 ] && grep -q "restarting nginx" "$LAB/out" &&
	   grep -q 'lab\[01-02\] (2)' "$LAB/out" && [ -e "$M.w" ]; then
		pass "on a terminal, y runs it"
	else
		fail "terminal confirm, yes (rc=$rc)"
	fi
	rm -f "$M.w"
fi

# --- a failing host: exit status 2 when a host cannot run it
lab_stop
nx echo-var -t 'lab[01-03]'
if [ $rc -eq 2 ] && grep -q 'lab\[01-03\] (3): FAILED (connect)' "$LAB/out"; then
	pass "unreachable hosts: exit status 2, coalesced error"
else
	fail "unreachable (rc=$rc)"
fi
lab_start

# --- a viewer is refused, and the refusal is an audit row
jq '. + {roles: {default: "viewer", admin: {users: ["nobody-is-named-this"]}}}' \
    "$LAB/conf.json" >"$LAB/viewer.json"
before=$(logins)
t0=$(date +%s)
timeout 60 "$NEXUSCTL" run -c "$LAB/viewer.json" -i "$LAB/inv.json" --state "$STATE" \
    echo-var -t @lab -F none --identity "$LAB/id_ed25519" --known-hosts "$KH" \
    --no-agent </dev/null >"$LAB/out" 2>"$LAB/err"
rc=$?
me=$(id -un)
if [ $rc -eq 77 ] &&
   grep -q "refused: user $me has role viewer; run needs operator or admin" "$LAB/err" &&
   [ "$(logins)" -eq "$before" ]; then
	pass "a viewer's run is refused (exit 77), nothing runs"
else
	fail "viewer refused (rc=$rc)"
fi

timeout 30 "$NEXUSCTL" audit verify --state "$STATE" >"$LAB/out" 2>"$LAB/err"
rc=$?
timeout 30 "$NEXUSCTL" audit list --state "$STATE" --format json >"$LAB/audit.json" 2>>"$LAB/err"
rc2=$?
refused=$(jq --arg me "$me" '[.[] | select(.who == $me and .role == "viewer" and .action == "run"
    and .target == "lab[01-20]" and .args.action == "echo-var"
    and (.result | startswith("refused: user")))] | length' "$LAB/audit.json")
jobs_ok=$(jq '[.[] | select(.action == "job" and .result == "succeeded 20/20")] | length' "$LAB/audit.json")
errors=$(jq '[.[] | select(.action == "run" and (.result | startswith("error: action restart: input unit")))] | length' "$LAB/audit.json")
if [ $rc -eq 0 ] && grep -q '^audit chain intact' "$LAB/out" && [ $rc2 -eq 0 ] &&
   [ "$refused" -eq 1 ] && [ "$jobs_ok" -ge 2 ] && [ "$errors" -eq 1 ]; then
	pass "audit: chain intact; the refusal, the runs and the bad input are rows"
else
	fail "audit rows (verify rc=$rc, list rc=$rc2, refused=$refused, jobs=$jobs_ok, errors=$errors)"
	head -c 2000 "$LAB/audit.json"
fi

# --- no store: the run goes on and says the audit is not recorded
echo "not a database" >"$LAB/foreign.db"
timeout 60 "$NEXUSCTL" run -c "$LAB/conf.json" -i "$LAB/inv.json" \
    --state "$LAB/foreign.db" note -t 'lab01' -i "file=$LAB/notes2" \
    </dev/null >"$LAB/out" 2>"$LAB/err"
rc=$?
if [ $rc -eq 0 ] && grep -q 'audit: not recorded' "$LAB/err" && [ -s "$LAB/notes2" ] &&
   [ "$(cat "$LAB/foreign.db")" = "not a database" ]; then
	pass "no state store: the action runs, the audit says not recorded"
else
	fail "no store (rc=$rc)"
fi

summary

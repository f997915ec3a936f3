#!/bin/sh
# ssh-fleet.sh - the ssh provider and the `ssh` check kind against a real
# sshd (tests/integration/sshlab.sh): remote checks over the persistent
# session (one login per host however many checks), in batch rounds and
# live; Nagios plugins on the host with perfdata and thresholds; session
# failures as UNKNOWN with the reason.
#
# Needs root, /usr/sbin/sshd, unshare and $NEXUSCTL.  Exit: 0 pass, 1 fail,
# 77 skip.

set -u
: "${NEXUSCTL:?}" "${TOP_SRCDIR:?}"
. "$TOP_SRCDIR/tests/integration/sshlab.sh"
lab_require
command -v jq >/dev/null 2>&1 || lab_skip "jq is not installed"
lab_enter "$TOP_SRCDIR/tests/integration/ssh-fleet.sh" "$@"

lab_setup
cleanup() {
	lab_cleanup
}
trap cleanup EXIT
trap 'exit 1' INT TERM
export XDG_CONFIG_HOME="$LAB/config" XDG_STATE_HOME="$LAB/state"
unset SSH_AUTH_SOCK
lab_start

fails=0
passes=0
pass() { passes=$((passes + 1)); echo "ok: $1"; }
fail() {
	fails=$((fails + 1))
	echo "FAIL: $1"
	echo "--- stdout"; head -c 3000 "$LAB/out"
	echo "--- stderr"; head -c 3000 "$LAB/err"
}

KH="$LAB/known_hosts"
lab_known_hosts "$KH" 200
export NEXUSCTL_SSH_IDENTITY="$LAB/id_ed25519" NEXUSCTL_SSH_KNOWN_HOSTS="$KH"
export NEXUSCTL_SSH_CONFIG=none
# logins: how many sessions sshd accepted so far (every client address is
# 127.0.0.1 on lo, whichever 127.x address it connects to).
logins() {
	grep -c "Accepted publickey for $LAB_USER from " "$LAB/sshd.log"
}
# node NAME FILTER / chk NODE CHECK FIELD: fields of `check --format json`.
node() { jq -r --arg n "$1" ".nodes[] | select(.name == \$n) | $2" "$LAB/out"; }
chk() { node "$1" ".checks[] | select(.name == \"$2\") | .$3"; }

# --- the ssh check kind, batch: over the sampler's session, plugins, failures
FLAG="$LAB/flag"
cat >"$LAB/inv.json" <<EOF
{ "nodes": [
  { "name": "n1", "address": "127.0.0.1", "port": $LAB_PORT, "user": "$LAB_USER",
    "groups": ["lab"], "vars": { "nexus_transport": "ssh", "nexus_cores": 64 } },
  { "name": "plain", "address": "127.0.0.5", "port": $LAB_PORT, "user": "$LAB_USER",
    "groups": ["lab"] },
  { "name": "off", "address": "127.0.0.3", "port": 2998, "user": "$LAB_USER",
    "groups": ["lab"] },
  { "name": "unknown", "address": "127.0.0.250", "port": $LAB_PORT, "user": "$LAB_USER",
    "groups": ["lab"] } ] }
EOF
cat >"$LAB/checks.json" <<EOF
{ "checks": { "interval": "1s", "retry_interval": "1s", "timeout": "5s",
  "define": [
  { "name": "flag", "kind": "ssh", "target": "@lab",
    "command": "test ! -e $FLAG || { echo CRITICAL - flag; exit 2; }" },
  { "name": "where", "kind": "ssh", "target": "@lab",
    "command": "printf 'WHERE OK - %s %s|n=1\\\\n' \$HOSTNAME\$ \$ARG1\$; echo \$\$SSH_CONNECTION >&2",
    "args": ["it's \$HOSTADDRESS\$"] },
  { "name": "rload", "kind": "ssh", "target": "n1",
    "command": "/usr/lib/nagios/plugins/check_load -w \$ARG1\$ -c \$ARG2\$",
    "args": ["500,400,300", "1000,800,600"],
    "thresholds": { "load1": { "warning": "~:-1" } } },
  { "name": "slow", "kind": "ssh", "target": "n1", "timeout": "1s",
    "command": "sleep 4; echo late" } ] } }
EOF
before=$(logins)
timeout 60 "$NEXUSCTL" check -c "$LAB/checks.json" -i "$LAB/inv.json" \
    --format json >"$LAB/out" 2>"$LAB/err"
rc=$?
after=$(logins)
if [ "$(chk n1 flag state)" = OK ] && [ "$(chk plain flag state)" = OK ] &&
   [ "$(chk n1 where output | head -1)" = "WHERE OK - n1 it's 127.0.0.1|n=1" ] &&
   chk n1 where output | sed -n 2p | grep -q " 127\.0\.0\.1 $LAB_PORT\$" &&
   [ "$(chk plain where output | head -1)" = "WHERE OK - plain it's 127.0.0.5|n=1" ] &&
   chk plain where output | sed -n 2p | grep -q " 127\.0\.0\.5 $LAB_PORT\$" &&
   [ "$(node n1 '.checks[] | select(.name == "where") | .perfdata[0].label')" = n ] &&
   [ $((after - before)) -eq 2 ]; then
	pass "ssh checks, batch: on the node over its session (2 hosts, sampler + 7 checks: $((after - before)) logins)"
else
	fail "ssh checks batch (rc=$rc, logins $before -> $after)"
fi
if [ "$(chk n1 rload state)" = WARNING ] &&
   chk n1 rload output | grep -q '^LOAD OK - total load average: .*(load1=.* is WARNING (warning range ~:-1); state WARNING by thresholds, plugin said OK)' &&
   [ "$(node n1 '.checks[] | select(.name == "rload") | .perfdata | length')" -ge 3 ] 2>/dev/null ||
   { [ "$(chk n1 rload state)" = WARNING ] &&
     chk n1 rload output | grep -q 'state WARNING by thresholds, plugin said OK'; }; then
	pass "a Nagios plugin on the host: perfdata judged by the definition's thresholds"
else
	fail "remote check_load (state $(chk n1 rload state))"
fi
if [ "$(chk off flag state)" = UNKNOWN ] &&
   chk off flag output | grep -q '^SSH UNKNOWN - connect: connect to 127\.0\.0\.3 port 2998: Connection refused' &&
   [ "$(chk unknown flag state)" = UNKNOWN ] &&
   chk unknown flag output | grep -q '^SSH UNKNOWN - hostkey: host key for \[127\.0\.0\.250\]:'"$LAB_PORT"' is not known' &&
   [ $rc -eq 2 ]; then
	pass "session failures are UNKNOWN with the reason (refused, unknown host key)"
else
	fail "session failures (rc=$rc)"
fi
if [ "$(chk n1 slow state)" = CRITICAL ] &&
   [ "$(chk n1 slow output)" = "(Service check timed out after 1.00 seconds)" ]; then
	pass "a command past the check's timeout gets the timeout result"
else
	fail "ssh check timeout ($(chk n1 slow output))"
fi
touch "$FLAG"
timeout 60 "$NEXUSCTL" check -c "$LAB/checks.json" -i "$LAB/inv.json" \
    --format json >"$LAB/out" 2>"$LAB/err"
rc=$?
if [ "$(chk n1 flag state)" = CRITICAL ] && [ "$(chk n1 flag output)" = "CRITICAL - flag" ] &&
   [ "$(chk plain flag state)" = CRITICAL ]; then
	pass "exit status 2 is CRITICAL with the command's output"
else
	fail "flag CRITICAL (rc=$rc)"
fi
rm -f "$FLAG"

# --- live: checks every second over the same session as the sampler
before=$(logins)
timeout 30 "$NEXUSCTL" watch -c "$LAB/checks.json" -i "$LAB/inv.json" --count 120 \
    >"$LAB/out" 2>"$LAB/err" &
WATCH_PID=$!
sleep 2.5
touch "$FLAG"
wait "$WATCH_PID"
rc=$?
rm -f "$FLAG"
after=$(logins)
count() { jq -s "map(select($1)) | length" "$LAB/out"; }
nres=$(count '.kind == "result" and .node == "n1" and .check == "flag"')
if [ $rc -eq 0 ] && [ "$nres" -ge 3 ] &&
   [ "$(count '.node == "n1" and .check == "flag" and .state == "CRITICAL" and .output == "CRITICAL - flag"')" -ge 1 ] &&
   [ "$(count '.node == "off" and .check == "flag" and .state == "UNKNOWN" and (.output | test("Connection refused"))')" -ge 1 ] &&
   [ $((after - before)) -eq 2 ]; then
	pass "ssh checks, live: $nres results of n1's flag, 2 hosts, $((after - before)) logins; the flag turns it CRITICAL"
else
	fail "ssh checks live (rc=$rc, results=$nres, logins $before -> $after)"
fi

echo "$passes passed, $fails failed"
[ $fails -eq 0 ]

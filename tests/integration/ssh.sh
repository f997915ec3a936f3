#!/bin/sh
# ssh.sh - `nexusctl run` against a real sshd (tests/integration/sshlab.sh):
# 200 loopback hosts, accept-new then strict host keys (plain and hashed
# known_hosts), ssh-agent, coalesced output,
# shell-quoted inventory vars, exit statuses, an unknown and a changed host
# key, a stopped server, a server that never answers (timeouts), an RSA
# client key (libssh2 1.10 cannot sign rsa-sha2), and the ssh provider in
# `check` (batch) and `watch` (live sampler).
#
# Needs root, /usr/sbin/sshd, unshare and $NEXUSCTL.  Exit: 0 pass, 1 fail,
# 77 skip.

set -u
: "${NEXUSCTL:?}" "${TOP_SRCDIR:?}"
. "$TOP_SRCDIR/tests/integration/sshlab.sh"
lab_require
command -v jq >/dev/null 2>&1 || lab_skip "jq is not installed"
lab_enter "$TOP_SRCDIR/tests/integration/ssh.sh" "$@"

lab_setup
LISTENER_PID=
AGENT_PID=
cleanup() {
	[ -n "$LISTENER_PID" ] && kill "$LISTENER_PID" 2>/dev/null
	[ -n "$AGENT_PID" ] && kill "$AGENT_PID" 2>/dev/null
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

KH="$LAB/known_hosts"
: >"$KH"
# nx ARGS... : nexusctl run, bounded; $LAB/out, $LAB/err, $rc, $secs.
nx() {
	t0=$(date +%s)
	timeout 60 "$NEXUSCTL" run -l "$LAB_USER" -p "$LAB_PORT" -F none \
	    --identity "$LAB/id_ed25519" --known-hosts "$KH" --no-agent "$@" \
	    >"$LAB/out" 2>"$LAB/err"
	rc=$?
	secs=$(($(date +%s) - t0))
}

# --- 200 hosts, accept-new: every address answers as itself; keys recorded
nx -w '127.0.0.[1-200]' --accept-new -- 'echo $SSH_CONNECTION | cut -d" " -f3'
distinct=$(grep -E '^127\.0\.0\.[0-9]+$' "$LAB/out" | sort -u | wc -l)
if [ $rc -eq 0 ] && [ "$distinct" -eq 200 ] &&
   [ "$(grep -c '^127\.0\.0\.1 (1)$' "$LAB/out")" -eq 1 ] &&
   [ "$(wc -l <"$KH")" -eq 200 ] &&
   grep -q '^\[127\.0\.0\.200\]:'"$LAB_PORT"' ssh-ed25519 ' "$KH"; then
	pass "200 hosts, 200 distinct addresses, 200 keys accepted (${secs}s)"
else
	fail "200 hosts with accept-new (rc=$rc, distinct=$distinct)"
fi

# --- strict (the default) with the keys now known; identical output coalesced
nx -w '127.0.0.[1-200]' -- 'echo same; echo err >&2'
if [ $rc -eq 0 ] && [ "$(grep -c '^----------------$' "$LAB/out")" -eq 2 ] &&
   grep -qx '127\.0\.0\.\[1-200\] (200)' "$LAB/out" &&
   grep -qx same "$LAB/out" && grep -qx err "$LAB/out" &&
   grep -q '200 hosts.*200 ok' "$LAB/err"; then
	pass "strict known hosts, output coalesced into one block (${secs}s)"
else
	fail "coalesced output"
fi

# --- hashed known_hosts entries (ssh-keygen -H) match too
cp "$KH" "$LAB/kh.plain"
ssh-keygen -q -H -f "$KH" >/dev/null 2>&1
rm -f "$KH.old"
nx -w '127.0.0.[1-5]' -- true
if [ $rc -eq 0 ] && ! grep -q '^\[127' "$KH" && grep -q '^|1|' "$KH"; then
	pass "hashed known_hosts entries"
else
	fail "hashed known_hosts (rc=$rc)"
fi
mv "$LAB/kh.plain" "$KH"

# --- ssh-agent: the key from the agent, no identity file
if command -v ssh-agent >/dev/null 2>&1 && command -v ssh-add >/dev/null 2>&1; then
	ssh-agent -D -a "$LAB/agent.sock" >/dev/null 2>&1 &
	AGENT_PID=$!
	i=0
	while [ ! -S "$LAB/agent.sock" ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	SSH_AUTH_SOCK="$LAB/agent.sock" ssh-add -q "$LAB/id_ed25519" 2>/dev/null
	SSH_AUTH_SOCK="$LAB/agent.sock" timeout 60 "$NEXUSCTL" run \
	    -w '127.0.0.[1-20]' -l "$LAB_USER" -p "$LAB_PORT" -F none \
	    --identity "$LAB/no-such-key" --known-hosts "$KH" -- echo agent \
	    >"$LAB/out" 2>"$LAB/err"
	rc=$?
	kill "$AGENT_PID" 2>/dev/null
	wait "$AGENT_PID" 2>/dev/null
	AGENT_PID=
	if [ $rc -eq 0 ] && grep -qx '127\.0\.0\.\[1-20\] (20)' "$LAB/out"; then
		pass "authentication through ssh-agent"
	else
		fail "ssh-agent (rc=$rc)"
	fi
fi

# --- ssh_config: Host aliases with HostName, Port, User, IdentityFile
cat >"$LAB/ssh_config" <<EOF
Host web1
  HostName 127.0.0.11
Host web2
  HostName 127.0.0.12
Host web*
  Port $LAB_PORT
  User $LAB_USER
  IdentityFile $LAB/id_ed25519
EOF
timeout 60 "$NEXUSCTL" run -w 'web[1-2]' -F "$LAB/ssh_config" --known-hosts "$KH" \
    --no-agent --format json -- 'echo $SSH_CONNECTION | cut -d" " -f3; whoami' \
    >"$LAB/out" 2>"$LAB/err"
rc=$?
if [ $rc -eq 0 ] &&
   [ "$(jq -r '.results[] | select(.hosts == "web1") | .stdout' "$LAB/out")" = "127.0.0.11
$LAB_USER" ] &&
   [ "$(jq -r '.results[] | select(.hosts == "web2") | .stdout' "$LAB/out")" = "127.0.0.12
$LAB_USER" ]; then
	pass "ssh_config aliases (HostName, Port, User, IdentityFile)"
else
	fail "ssh_config (rc=$rc)"
fi

# --- JSON, and exit statuses: 1 when a command exits non-zero
nx -w '127.0.0.[1-4]' --format json -- \
    'a=$(echo $SSH_CONNECTION | cut -d" " -f3); [ "$a" = 127.0.0.2 ] && exit 3; echo ok'
if [ $rc -eq 1 ] &&
   [ "$(jq -r '.results[] | select(.exit == 3) | .hosts' "$LAB/out")" = 127.0.0.2 ] &&
   [ "$(jq -r '.results[] | select(.exit == 0) | .count' "$LAB/out")" = 3 ] &&
   [ "$(jq -r '.results[] | select(.exit == 0) | .stdout' "$LAB/out")" = ok ] &&
   [ "$(jq -r .nonzero "$LAB/out")" = 1 ]; then
	pass "JSON results; exit status 1 when a command exits non-zero"
else
	fail "JSON / non-zero exit (rc=$rc)"
fi

# --- a command that outlives -u: timed out, reported, the others unaffected
nx -w '127.0.0.[1-3]' -u 1 -- \
    'a=$(echo $SSH_CONNECTION | cut -d" " -f3); [ "$a" = 127.0.0.3 ] || exec sleep 4; echo quick'
if [ $rc -eq 2 ] && [ $secs -le 3 ] &&
   grep -q '^127\.0\.0\.\[1-2\] (2): FAILED (timeout): timed out after 1\.0 s running the command' "$LAB/out" &&
   grep -q '^127\.0\.0\.3 (1)$' "$LAB/out"; then
	pass "a command past -u times out, the others complete (${secs}s)"
else
	fail "command timeout (rc=$rc, ${secs}s)"
fi

# --- inventory vars with shell metacharacters arrive as data
MARK="$LAB/pwned"
cat >"$LAB/inv.json" <<EOF
{ "nodes": [
  { "name": "lab1", "address": "127.0.0.1", "port": $LAB_PORT, "user": "$LAB_USER",
    "groups": ["lab"], "vars": { "msg": "\$(touch $MARK); \`touch $MARK\` it's \"quoted\" & | ; > $MARK" } },
  { "name": "lab2", "address": "127.0.0.2", "port": $LAB_PORT, "user": "$LAB_USER",
    "groups": ["lab"], "vars": { "msg": "plain" } } ] }
EOF
want1="\$(touch $MARK); \`touch $MARK\` it's \"quoted\" & | ; > $MARK"
timeout 60 "$NEXUSCTL" run -i "$LAB/inv.json" -t @lab -F none --identity "$LAB/id_ed25519" \
    --known-hosts "$KH" --no-agent --format json -- 'printf "%s\n" {{ msg }}' \
    >"$LAB/out" 2>"$LAB/err"
rc=$?
got1=$(jq -r '.results[] | select(.hosts == "lab1") | .stdout' "$LAB/out")
got2=$(jq -r '.results[] | select(.hosts == "lab2") | .stdout' "$LAB/out")
if [ $rc -eq 0 ] && [ "$got1" = "$want1" ] && [ "$got2" = plain ] &&
   [ ! -e "$MARK" ]; then
	pass "inventory vars substituted shell-quoted reach the remote side as data"
else
	fail "shell-quoted vars (rc=$rc, got1=$got1)"
fi
timeout 60 "$NEXUSCTL" run -i "$LAB/inv.json" -t @lab -F none --identity "$LAB/id_ed25519" \
    --known-hosts "$KH" --no-agent -- 'echo {{ nosuchvar }}' \
    >"$LAB/out" 2>"$LAB/err"
rc=$?
if [ $rc -eq 2 ] && grep -q "variable 'nosuchvar' is not defined" "$LAB/out"; then
	pass "an undefined variable fails the host before anything runs"
else
	fail "undefined variable (rc=$rc)"
fi

# --- an unknown host under strict checking is refused; nothing recorded
nx -w 127.0.0.201 -- "touch $MARK"
if [ $rc -eq 2 ] && grep -q 'is not known' "$LAB/out" &&
   grep -q -- '--accept-new' "$LAB/out" && [ ! -e "$MARK" ] &&
   [ "$(wc -l <"$KH")" -eq 200 ]; then
	pass "unknown host key refused under strict checking"
else
	fail "unknown host key (rc=$rc)"
fi

# --- an RSA client key: the server refuses it; the message says why
ssh-keygen -q -t rsa -b 2048 -N '' -f "$LAB/id_rsa"
cat "$LAB/id_rsa.pub" >>"$LAB/authorized_keys"
timeout 60 "$NEXUSCTL" run -w 127.0.0.1 -l "$LAB_USER" -p "$LAB_PORT" -F none \
    --identity "$LAB/id_rsa" --known-hosts "$KH" --no-agent -- true \
    >"$LAB/out" 2>"$LAB/err"
rc=$?
if [ $rc -eq 2 ] && grep -q 'rsa-sha2' "$LAB/out" &&
   grep -q 'ed25519' "$LAB/out" && grep -q 'FAILED (auth)' "$LAB/out"; then
	pass "RSA key: the rsa-sha2 limitation is named, with the fix"
else
	fail "RSA key message (rc=$rc)"
fi

# --- the ssh provider: inventory nodes with nexus_transport=ssh
cat >"$LAB/fleet.json" <<EOF
{ "nodes": [
  { "name": "n1", "address": "127.0.0.1", "port": $LAB_PORT, "user": "$LAB_USER",
    "vars": { "nexus_transport": "ssh", "nexus_cores": 64 } },
  { "name": "n9", "address": "127.0.0.250", "port": $LAB_PORT, "user": "$LAB_USER",
    "vars": { "nexus_transport": "ssh" } },
  { "name": "off", "address": "127.0.0.3", "port": 2998, "user": "$LAB_USER",
    "vars": { "nexus_transport": "ssh" } } ] }
EOF
export NEXUSCTL_SSH_IDENTITY="$LAB/id_ed25519" NEXUSCTL_SSH_KNOWN_HOSTS="$KH"
export NEXUSCTL_SSH_CONFIG=none
timeout 60 "$NEXUSCTL" check -i "$LAB/fleet.json" --format json >"$LAB/out" 2>"$LAB/err"
rc=$?
read -r l1 x </proc/loadavg
node() { jq -r --arg n "$1" ".nodes[] | select(.name == \$n) | $2" "$LAB/out"; }
load=$(node n1 .metrics.load)
if [ "$(node n1 .health)" != DOWN ] &&
   [ "$(node n1 '.checks[] | select(.name == "ping") | .state')" = OK ] &&
   [ "$(jq -n --argjson a "$load" --argjson b "$l1" '($a - $b) | fabs < 2')" = true ] &&
   [ "$(node n1 '.metrics.mem > 0 and .metrics.mem < 100')" = true ] &&
   [ "$(node n1 '.metrics.disk > 0 and .metrics.disk <= 100')" = true ] &&
   [ "$(node n9 .health)" = DOWN ] &&
   node n9 '.checks[] | select(.name == "ping") | .output' | grep -q 'is not known' &&
   [ "$(node off .health)" = DOWN ] &&
   node off '.checks[] | select(.name == "ping") | .output' | grep -q 'Connection refused'; then
	pass "ssh provider, batch: metrics from the node's /proc (load $load vs $l1); DOWN with the reason"
else
	fail "ssh provider batch (rc=$rc, load=$load vs $l1)"
fi
echo '{"checks": {"interval": "1s", "retry_interval": "1s"}}' >"$LAB/live.json"
timeout 30 "$NEXUSCTL" watch -c "$LAB/live.json" -i "$LAB/fleet.json" --count 150 \
    >"$LAB/out" 2>"$LAB/err"
rc=$?
# has FILTER: whether some event of the stream matches.
has() { [ "$(jq -s "map(select($1)) | length > 0" "$LAB/out")" = true ]; }
if [ $rc -eq 0 ] &&
   has '.node == "n1" and .check == "ping" and .state == "OK"' &&
   has '.node == "n1" and .check == "mem" and (.output // "" | test("^mem (OK|WARNING|CRITICAL) - mem [0-9.]+%"))' &&
   has '.node == "off" and .check == "ping" and .state == "CRITICAL" and (.output // "" | test("Connection refused"))'; then
	pass "ssh provider, live: the sampler channel streams metrics; a refused node is CRITICAL with the reason"
else
	fail "ssh provider live (rc=$rc)"
fi
unset NEXUSCTL_SSH_IDENTITY NEXUSCTL_SSH_KNOWN_HOSTS NEXUSCTL_SSH_CONFIG

# --- a server that accepts but never speaks: handshake timeout
python3 -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 2299)); s.listen(512); time.sleep(30)' &
LISTENER_PID=$!
i=0
while ! timeout 1 bash -c ': </dev/tcp/127.0.0.1/2299' 2>/dev/null &&
    [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
t0=$(date +%s)
timeout 60 "$NEXUSCTL" run -w '127.0.0.[1-20]' -l "$LAB_USER" -p 2299 -u 2 -F none \
    --identity "$LAB/id_ed25519" --known-hosts "$KH" --no-agent -- true \
    >"$LAB/out" 2>"$LAB/err"
rc=$?
secs=$(($(date +%s) - t0))
kill "$LISTENER_PID" 2>/dev/null
wait "$LISTENER_PID" 2>/dev/null
LISTENER_PID=
if [ $rc -eq 2 ] && [ $secs -le 4 ] &&
   grep -Eq '127\.0\.0\.\[1-20\] \(20\): FAILED \(timeout\): timed out (after [0-9.]+ s )?in the SSH handshake' "$LAB/out"; then
	pass "silent server: 20 hosts time out in the handshake within -u 2 (${secs}s)"
else
	fail "handshake timeout (rc=$rc, ${secs}s)"
fi

# --- a changed host key: refused, loudly, and nothing runs
lab_new_host_key
lab_restart
: >"$LAB/sshd.log"
nx -w '127.0.0.[1-3]' -- "touch $MARK"
if [ $rc -eq 2 ] && grep -q 'has CHANGED' "$LAB/out" &&
   grep -q 'ssh-keygen -R' "$LAB/out" && [ ! -e "$MARK" ] &&
   ! grep -q "Accepted publickey" "$LAB/sshd.log"; then
	pass "changed host key refused, command not run"
else
	fail "changed host key (rc=$rc)"
fi
# ... and each refusal is an audit row in the default store's chain
n=$("$NEXUSCTL" audit list --format json 2>/dev/null |
    jq '[.[] | select(.action == "ssh.hostkey.refused" and
        .args.reason == "changed")] | length')
if [ "${n:-0}" -eq 3 ] && "$NEXUSCTL" audit verify >/dev/null 2>&1; then
	pass "run audits the 3 refused host keys; the chain verifies"
else
	fail "run's refused host keys audited: ${n:-none} rows"
fi

# --- sshd stopped: every host fails fast with the real reason
lab_stop
nx -w '127.0.0.[1-50]' -u 5 -- true
if [ $rc -eq 2 ] && [ $secs -le 5 ] &&
   grep -q '127\.0\.0\.\[1-50\] (50): FAILED (connect): connect to {host} port '"$LAB_PORT"': Connection refused' "$LAB/out"; then
	pass "server stopped: 50 hosts refused within the timeout (${secs}s)"
else
	fail "server stopped (rc=$rc, ${secs}s)"
fi

# --- usage errors
timeout 10 "$NEXUSCTL" run -- true >"$LAB/out" 2>"$LAB/err"
rc=$?
if [ $rc -eq 64 ] && grep -q -- '-w HOSTLIST or -t TARGET' "$LAB/err"; then
	pass "usage: no hosts given"
else
	fail "usage error (rc=$rc)"
fi

summary

#!/bin/sh
#
# ssh-console.sh - the console on real SSH hosts: the sshd lab
# (tests/integration/sshlab.sh: one OpenSSH sshd in a private network
# namespace, every 127.0.0.x a host) and the console in tmux (tests/tui/
# lib.sh), read back with capture-pane; every wait is a bounded poll.
#
# Five inventory nodes with nexus_transport ssh:
#   - they come up through their sessions, with load samples;
#   - x on three marked nodes runs an ssh action: on each host the remote
#     shell writes the address it was reached on ($SSH_CONNECTION) and its
#     pid, so the file shows that the action reached exactly the marked
#     nodes; the jobs view shows the job succeeded with the coalesced
#     output; run again, each host answers from the same shell (the
#     engine's runner, doc/ssh.md), not a new session per command;
#   - o on a node: a real ssh client (the lab's key and known hosts given
#     by a wrapper first in PATH) logs in with the node's port and user, a
#     command typed in that shell runs on the node, and after `exit` the
#     console comes back, redrawn.
#
# Needs root, /usr/sbin/sshd, unshare, /usr/bin/ssh, tmux and $NEXUSCTL.
# Exit: 0 pass, 1 fail, 77 skip.
set -u
: "${NEXUSCTL:?}" "${TOP_SRCDIR:?}"
. "$TOP_SRCDIR/tests/integration/sshlab.sh"
lab_require
command -v tmux >/dev/null 2>&1 || lab_skip "tmux is not installed"
[ -x /usr/bin/ssh ] || lab_skip "no /usr/bin/ssh (openssh-client)"
lab_enter "$TOP_SRCDIR/tests/tui/ssh-console.sh" "$@"
LSAN_OPTIONS="suppressions=$TOP_SRCDIR/tests/integration/lsan-libssh2.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export LSAN_OPTIONS

SOCKBASE=nxsshcon-$$
. "$TOP_SRCDIR/tests/tui/lib.sh"
lab_setup
trap 'cleanup; lab_cleanup' EXIT
unset SSH_AUTH_SOCK
lab_start

keys() {
	tm send-keys -t nx "$@"
	sleep 0.2
}
footer() {
	cap | tail -n 1
}

chmod 755 "$TMP"
mkdir -m 1777 "$TMP/remote"
KH="$LAB/known_hosts"
lab_known_hosts "$KH" 5
export NEXUSCTL_SSH_IDENTITY="$LAB/id_ed25519" NEXUSCTL_SSH_KNOWN_HOSTS="$KH"
export NEXUSCTL_SSH_CONFIG=none
{
	echo '{ "nodes": ['
	i=1
	while [ $i -le 5 ]; do
		[ $i -gt 1 ] && echo ','
		printf '{"name": "n%d", "address": "127.0.0.%d", "port": %d, "user": "%s", "groups": ["lab"], "vars": {"nexus_transport": "ssh", "nexus_cores": 64}}' \
		    $i $i "$LAB_PORT" "$LAB_USER"
		i=$((i + 1))
	done
	echo '] }'
} >"$TMP/inv.json"
# The action: on the node, the address it was reached on and the pid of
# the shell that ran it ($$ of the command's subshell is its shell's).
sed "s|@REMOTE@|$TMP/remote|" >"$TMP/config.json" <<'EOF'
{ "demo": { "enabled": false, "local": false },
  "checks": { "interval": "2s", "retry_interval": "1s" },
  "actions": { "define": [
    { "name": "where", "description": "say where it ran", "kind": "ssh",
      "command": "echo \"$$(echo $$SSH_CONNECTION | cut -d' ' -f3) $$$$\" >> '@REMOTE@/where'; echo reached" }
  ] } }
EOF
"$NEXUSCTL" config check -c "$TMP/config.json" >/dev/null ||
    fail "the configuration does not load: $("$NEXUSCTL" config check -c "$TMP/config.json" 2>&1)"
# The ssh that `o` runs: the real client with the lab's key and hosts.
mkdir -p "$TMP/bin"
cat >"$TMP/bin/ssh" <<EOF
#!/bin/sh
exec /usr/bin/ssh -F /dev/null -i "$LAB/id_ed25519" -o IdentitiesOnly=yes \
    -o UserKnownHostsFile="$KH" -o GlobalKnownHostsFile=/dev/null \
    -o StrictHostKeyChecking=yes -o BatchMode=yes "\$@"
EOF
chmod +x "$TMP/bin/ssh"

new_server "env PATH='$TMP/bin':\"\$PATH\" sh -c '\"\$0\" \"\$@\"; echo EXIT=\$?; sleep 60' '$NEXUSCTL' -c '$TMP/config.json' -i '$TMP/inv.json' --state '$TMP/state.db'"
wait_for '[0-9]+ nodes' 50 || fail "no node count in the header"
# Up: a host state other than DOWN, and a load sample from the node.
up() {
	rows | grep -Ec "^[> ][* ] (OK|WARNING|UNKNOWN) +n[1-5] +127\.0\.0\.[1-5] +lab +[0-9]+\.[0-9]+ "
}
n=0
while [ "$(up)" -lt 5 ] && [ $n -lt 300 ]; do
	sleep 0.1
	n=$((n + 1))
done
[ "$(up)" -eq 5 ] || fail "the 5 SSH nodes did not come up within 30 s"
echo "ok: 5 SSH nodes up through their sessions, with load samples"

# --- x on three marked nodes, twice --------------------------------------
keys g Space Space Space
wait_for '3 marked' 20 || fail "three Spaces did not mark three rows"
MARKED=$(rows | grep '^.\*' | awk '{ print $3 }' | sort | tr '\n' ' ')
keys x
wait_for 'Actions for 3 nodes' 20 || fail "x: no action menu"
cap | grep -q '> where  *ssh' || fail "the menu lacks where (ssh)"
keys Enter
wait_for 'job #1 where: succeeded, 3 ok' 100 || fail "the job did not succeed: $(footer)"
reached=$(awk '{ print $1 }' "$TMP/remote/where" | sort | tr '\n' ' ')
want=$(for n in $MARKED; do echo "127.0.0.${n#n}"; done | sort | tr '\n' ' ')
[ "$reached" = "$want" ] ||
    fail "the action reached '$reached', the marked nodes are $MARKED ($want)"
echo "ok: x ran the ssh action on exactly the 3 marked nodes ($want)"
keys x Enter
wait_for 'job #2 where: succeeded, 3 ok' 100 || fail "the second job did not succeed: $(footer)"
[ "$(wc -l <"$TMP/remote/where")" -eq 6 ] ||
    fail "the file has $(wc -l <"$TMP/remote/where") lines, want 6"
same=$(sort -u "$TMP/remote/where" | wc -l)
[ "$same" -eq 3 ] ||
    fail "a host answered from another shell the second time: $(cat "$TMP/remote/where")"
echo "ok: run again, each host answered from the same shell"
keys 5
wait_for 'ID +STATE +ACTION +TARGETS +HOSTS +WHO +ORIGIN' 20 || fail "5 did not open the jobs view"
wait_for '^> +2 succeeded +where ' 20 || fail "the jobs view does not show job 2 succeeded"
keys Enter
wait_for 'job #2 +succeeded +where on ' 20 || fail "Enter did not show the job"
cap | grep -Eq '\(3 hosts\): ok, exit 0' || fail "no coalesced result of 3 hosts"
cap | grep -q 'reached' || fail "the job's output is not shown"
echo "ok: the jobs view shows the job and its coalesced output"
keys Escape 1 U

# --- o: a real ssh session to the node, and back -----------------------------
keys / n 4 Enter
wait_for '^>[* ] [A-Z]+ +n4 ' 30 || fail "n4 not selected"
keys o
n=0
while ! cap | grep -q '\$ *$' && [ $n -lt 100 ]; do
	sleep 0.1
	n=$((n + 1))
done
cap | grep -q '\$ *$' || fail "o: no remote shell prompt"
keys "echo \"\$SSH_CONNECTION\" > $TMP/remote/shell; exit" Enter
wait_for 'ssh n4: ' 50 || fail "the console did not come back after ssh: $(footer)"
wait_for 'STATE +NAME +ADDRESS' 20 || fail "no table after the shell-out"
[ "$(cut -d' ' -f3,4 "$TMP/remote/shell" 2>/dev/null)" = "127.0.0.4 $LAB_PORT" ] ||
    fail "the shell ran on '$(cat "$TMP/remote/shell" 2>/dev/null)', want 127.0.0.4 port $LAB_PORT"
echo "ok: o logged into n4 (127.0.0.4:$LAB_PORT), the typed command ran there, the console came back"
tm send-keys -t nx q
wait_for '^EXIT=0$' 50 || fail "q did not exit 0"
echo "PASS: the console on SSH hosts (sessions, an ssh action on marked nodes, the runner, jobs, o)"
exit 0

#!/bin/sh
#
# nodeview.sh - acting from the node view, driven in private tmux servers
# (own socket per run, no config file; the trap kills only those servers)
# and read back with capture-pane.  Every wait is a bounded poll.
#
# On `nexusctl --demo=2 -c CONFIG --state FILE` (2 simulated nodes and
# this machine, whose check crit-a is a plugin that always says CRITICAL;
# an action `record`, local, writing $HOSTNAME$ to a file):
#   - Enter on the crit-a problem opens the node view with the cursor ('>')
#     on the host line; j moves it to the crit-a check
#   - a with a comment: the check's line says acknowledged, the problems
#     view shows the A flag, and the audit view has the ack row
#   - g, then d (2h, a comment) on the host line: a downtime of the node,
#     which its host line shows
#   - x: the menu for this node, the confirmation (Cancel by default; Tab
#     Enter runs it); the file has this node's name, the node's RECENT
#     JOBS shows the job succeeded, and G Enter opens it in the jobs view;
#     Esc twice comes back to the node view
#   - Space marks the crit-a line ('*'), U unmarks
# With --readonly (a viewer): the node view's footer and help lack a, d,
# x; a and x there are refused by the engine, and the refusals are rows of
# the store's audit chain; o runs ssh to this node's address (a fake ssh
# first in PATH that records its argv) and the node view comes back.
#
set -u

SOCKBASE=nxnodeview-$$
. "${TOP_SRCDIR:-$(dirname "$0")/../..}/tests/tui/lib.sh"

command -v jq >/dev/null 2>&1 || { echo "SKIP: jq not found"; exit 77; }

footer() {
	cap | tail -n 1
}

start() {
	new_server "env PATH='$TMP/bin':\"\$PATH\" sh -c 'ulimit -c 0; \"\$0\" \"\$@\"; echo EXIT=\$?; sleep 60' '$NEXUSCTL' $*"
	wait_for '[0-9]+ nodes' 30 || fail "no node count in the header within 3 s"
}

quit() {
	tm send-keys -t nx q
	wait_for '^EXIT=0$' 50 || fail "q did not exit 0"
}

keys() {
	tm send-keys -t nx "$@"
	sleep 0.2
}

# open_crit: the problems view filtered to crit-a, Enter on it; sets NODE.
open_crit() {
	keys 2 / c h e c k : c r i t - a Enter
	wait_for "CRITICAL +[^ ]+ +crit-a " 50 || fail "no crit-a problem"
	NODE=$(cap | grep -E "^>. CRITICAL +[^ ]+ +crit-a " | awk '{ print $3 }')
	[ -n "$NODE" ] || fail "no node of the crit-a problem"
	keys Enter
	wait_for "^ $NODE " 20 || fail "Enter did not open the node view of $NODE"
	wait_for '^> host +UP' 20 || fail "the cursor is not on the host line"
}

ME=$(id -un)
mkdir -p "$TMP/bin"
# The fake ssh: records its arguments, then exits 3.
cat > "$TMP/bin/ssh" <<EOF
#!/bin/sh
printf '%s\n' "\$*" > "$TMP/ssh-argv"
exit 3
EOF
chmod +x "$TMP/bin/ssh"
cat > "$TMP/crit.sh" <<'EOF'
#!/bin/sh
echo "CRITICAL - broken on purpose"
exit 2
EOF
chmod +x "$TMP/crit.sh"
cat > "$TMP/config.json" <<EOF
{ "demo": { "local": true },
  "checks": { "interval": "2s", "retry_interval": "1s", "define": [
    { "name": "crit-a", "kind": "plugin", "local": true, "command": ["$TMP/crit.sh"] }
  ] },
  "actions": { "define": [
    { "name": "record", "description": "write the node name to a file",
      "kind": "local", "confirm": true,
      "command": "echo \$HOSTNAME\$ >> '$TMP/names'" }
  ] } }
EOF
"$NEXUSCTL" config check -c "$TMP/config.json" >/dev/null ||
    fail "the test configuration does not load"

start --demo=2 --seed 1 -c "$TMP/config.json" --state "$TMP/state.db"
open_crit
for h in 'a ack' 'd downtime' 'x action' 'o ssh' 'Space mark' 'Enter job'; do
	footer | grep -q "$h" || fail "no '$h' hint in the node view's footer: $(footer)"
done

# --- the cursor: j to the crit-a check ------------------------------------------
n=0
while ! cap | grep -Eq '^> CRITICAL +crit-a '; do
	[ "$n" -lt 12 ] || fail "j did not reach the crit-a check"
	keys j
	n=$((n + 1))
done
[ "$(cap | grep -c '^>')" -eq 1 ] || fail "more than one line has the cursor"

# --- marks ---------------------------------------------------------------------
keys Space
wait_for '^.\*CRITICAL +crit-a ' 20 || fail "Space did not mark crit-a"
footer | grep -q '1 marked' || fail "the footer does not count the mark: $(footer)"
keys U
wait_for 'marks cleared' 20 || fail "U: no message"
cap | grep -Eq '^.\*' && fail "a line still marked after U"
keys k j
wait_for '^> CRITICAL +crit-a ' 20 || fail "the cursor is not back on crit-a"

# --- a: ack of the selected check ----------------------------------------------
keys a
wait_for "^ack 1 row on $NODE, comment:" 20 || fail "a: no comment prompt: $(footer)"
keys o n Space i t Enter
wait_for 'acknowledged 1 problem' 20 || fail "ack: $(footer)"
wait_for '^> CRITICAL +crit-a .* acknowledged' 30 || fail "the node view does not show the ack"
cap | grep -Eq '^  host +UP \(acknowledged\)' && fail "the ack went to the host"

# --- d on the host line: the node's downtime ------------------------------------
keys g
wait_for '^> host +UP' 20 || fail "g did not go to the host line"
keys d
wait_for "^downtime for 1 row on $NODE, duration: 2h" 20 || fail "d: no duration prompt: $(footer)"
keys Enter m a i n t Enter
wait_for 'downtime of 2h for 1 row' 20 || fail "downtime: $(footer)"
wait_for '^> host +UP \(in downtime\)' 30 || fail "the host line does not show the downtime"

# --- x: an action on this node ----------------------------------------------------
keys x
wait_for "Actions for $NODE" 20 || fail "x: no action menu for $NODE"
keys Enter
wait_for 'Run record\?' 20 || fail "no confirmation"
cap | grep -q "on 1 node: $NODE" || fail "the confirmation does not name $NODE"
keys Tab Enter
wait_for 'job #1 record: succeeded, 1 ok' 50 || fail "the job did not succeed: $(footer)"
[ "$(cat "$TMP/names" 2>/dev/null)" = "$NODE" ] ||
    fail "the file has '$(cat "$TMP/names" 2>/dev/null)', want '$NODE'"
wait_for '^  #1 +succeeded +record +1 ok +this node: ok, exit 0' 20 ||
    fail "RECENT JOBS does not show job 1"
keys G
wait_for '^> #1 +succeeded' 20 || fail "G did not go to the job"
keys Enter
wait_for 'job #1 +succeeded +record on ' 20 || fail "Enter did not open the job"
keys Escape
wait_for 'ID +STATE +ACTION' 20 || fail "Esc did not go to the job list"
keys Escape
wait_for "^ $NODE " 20 || fail "Esc did not come back to the node view"

# --- the problems view and the audit view ---------------------------------------
keys Escape
wait_for "CRITICAL +$NODE +crit-a +HARD +[0-9]+[smh] +A" 30 ||
    fail "the problems view does not show the ack flag"
keys 6
wait_for 'chain: intact' 50 || fail "no chain status in the audit view"
cap | grep -Eq "$ME +admin +ack +$NODE/crit-a +ok +.*\"comment\":\"on it\"" ||
    fail "no audit row for the ack"
cap | grep -Eq "$ME +admin +downtime +$NODE +ok" || fail "no audit row for the node's downtime"
cap | grep -Eq "$ME +admin +run +$NODE +started job 1 " || fail "no audit row for the run"
quit

# --- --readonly: hidden and refused ----------------------------------------------
start --demo=2 --seed 1 -c "$TMP/config.json" --readonly --state "$TMP/ro.db"
open_crit
footer | grep -Eq ' a ack | d downtime | x action ' &&
    fail "acting keys in a viewer's node view footer: $(footer)"
footer | grep -q 'Space mark' || fail "no mark hint in a viewer's node view"
keys '?'
wait_for 'Keys of the node view' 20 || fail "? did not show the help"
cap | grep -Eq '^ +[adxr] +(ack|downtime|action|reset)' && fail "acting keys in a viewer's help"
cap | grep -q 'Enter, Enter' && fail "help lists a key name twice: $(cap | grep 'Enter, Enter')"
keys Escape j
keys a
wait_for "refused: user $ME has role viewer; ack needs operator or admin" 20 ||
    fail "a was not refused by the engine: $(footer)"
keys x
wait_for "refused: user $ME has role viewer; run needs" 20 || fail "x was not refused: $(footer)"
# o: ssh to this node (a fake ssh), also for a viewer.
ADDR=$(cap | awk '$1 == "address" { print $2; exit }')
keys o
wait_for "ssh $NODE: exit 3" 50 || fail "the console did not come back after ssh: $(footer)"
grep -Eq -- "-- $ADDR\$" "$TMP/ssh-argv" 2>/dev/null ||
    fail "ssh ran with '$(cat "$TMP/ssh-argv" 2>/dev/null)', want it to end with '-- $ADDR'"
wait_for "^ $NODE " 20 || fail "no node view after the shell-out"
quit
"$NEXUSCTL" audit list --state "$TMP/ro.db" --format json > "$TMP/ro.json" ||
    fail "audit list failed"
for what in ack run; do
	n=$(jq --arg me "$ME" --arg what "$what" '[.[] | select(.who == $me and
	    .role == "viewer" and .action == $what and
	    (.result | startswith("refused: user")))] | length' "$TMP/ro.json")
	[ "$n" -ge 1 ] || fail "no refused $what row of the viewer in the store"
done

echo "PASS: nodeview (cursor, marks, ack, downtime, action, recent jobs, read-only)"
exit 0

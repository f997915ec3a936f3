#!/bin/sh
#
# acting.sh - acting from the console, driven in private tmux servers (own
# socket per run, no config file; the trap kills only those servers) and
# read back with capture-pane.  Every wait is a bounded poll.
#
# On `nexusctl --demo=6 -c CONFIG --state FILE` (6 simulated nodes and
# this machine, whose checks crit-a and crit-b are a plugin that always
# says CRITICAL; actions `record`, local, writing $HOSTNAME$ to a file,
# with an input whose pattern is [a-z]+, and `wipe`, dangerous):
#   - Space marks a row and moves down (a '*' before it), V marks from the
#     last marked row to the current one, U unmarks all; the footer counts
#   - x on three marked nodes: the menu, the input prompt with its default
#     and a pattern error shown in place, the confirmation: Enter (Cancel,
#     the default) runs nothing; Tab Enter runs it; the file has exactly
#     the three names; the jobs view (5) shows the job succeeded, from the
#     console, and Enter shows its coalesced per-host result
#   - a dangerous action wants its name typed; a wrong name is refused
#   - a on a problem, with a comment: the FLAGS column shows A and the
#     audit view (6) has the ack row; d with a bad duration, then 30m:
#     the row shows D and the audit view has the downtime row
#   - :run rec<Tab> completes the action's name; :downtime 1h COMMENT
# With --readonly (a viewer) and an Ansible inventory:
#   - the header says viewer, the footer and the help lack a, d, x and
#     :run; pressing a and x shows the engine's refusal; the audit view
#     is refused too; each refusal is a row of the store's audit chain
#     (nexusctl audit list)
#   - o runs `ssh -p PORT -l USER -- ADDRESS` (a fake ssh first in PATH
#     that records its argv) and the console comes back, redrawn
# As an auditor (roles in the configuration): a is refused and the audit
# view shows that refusal's row.
#
set -u

SOCKBASE=nxacting-$$
. "${TOP_SRCDIR:-$(dirname "$0")/../..}/tests/tui/lib.sh"

footer() {
	cap | tail -n 1
}

# start ARGS...: the console with ARGS in a new private server, 160x48.
start() {
	new_server "env PATH='$TMP/bin':\"\$PATH\" sh -c 'ulimit -c 0; \"\$0\" \"\$@\"; echo EXIT=\$?; sleep 60' '$NEXUSCTL' $*"
	wait_for '[0-9]+ nodes' 30 || fail "no node count in the header within 3 s"
}

quit() {
	tm send-keys -t nx q
	wait_for '^EXIT=0$' 50 || fail "q did not exit 0"
}

# keys KEY...: send keys, then give the console a moment to draw.
keys() {
	tm send-keys -t nx "$@"
	sleep 0.2
}

command -v jq >/dev/null 2>&1 || { echo "SKIP: jq not found"; exit 77; }
ME=$(id -un)
mkdir -p "$TMP/bin"
cat > "$TMP/crit.sh" <<'EOF'
#!/bin/sh
echo "CRITICAL - broken on purpose"
exit 2
EOF
chmod +x "$TMP/crit.sh"
# The fake ssh: records its arguments, then exits 3.
cat > "$TMP/bin/ssh" <<EOF
#!/bin/sh
printf '%s\n' "\$*" > "$TMP/ssh-argv"
exit 3
EOF
chmod +x "$TMP/bin/ssh"

config() {
	cat <<EOF
{ "demo": { "local": true },
  "checks": { "interval": "2s", "retry_interval": "1s", "define": [
    { "name": "crit-a", "kind": "plugin", "local": true, "command": ["$TMP/crit.sh"] },
    { "name": "crit-b", "kind": "plugin", "local": true, "command": ["$TMP/crit.sh"] }
  ] },
  $1
  "actions": { "define": [
    { "name": "record", "description": "write the node names to a file",
      "kind": "local", "confirm": true,
      "command": "echo \$HOSTNAME\$ >> '$TMP/names'; echo tag \$INPUT:tag\$",
      "inputs": [ { "name": "tag", "pattern": "[a-z]+", "default": "abc",
                    "description": "a word" } ] },
    { "name": "wipe", "description": "pretend to wipe", "kind": "local",
      "dangerous": true, "command": "echo \$HOSTNAME\$ >> '$TMP/wiped'" }
  ] } }
EOF
}
config "" > "$TMP/config.json"
"$NEXUSCTL" config check -c "$TMP/config.json" >/dev/null ||
    fail "the test configuration does not load: $("$NEXUSCTL" config check -c "$TMP/config.json" 2>&1)"

start --demo=6 --seed 1 -c "$TMP/config.json" --state "$TMP/state.db"
wait_for "^>[* ] ($STATES) " 30 || fail "no rows"
cap | sed -n 1p | grep -Eq " $ME \\(admin\\) " ||
    fail "the header does not name the user and role: $(cap | sed -n 1p)"

# --- marks ----------------------------------------------------------------
row() {
	rows | sed -n "${1}p"
}
keys Space
wait_for '1 marked' 20 || fail "Space: no '1 marked' in the footer"
row 1 | grep -q '^ \* ' || fail "Space did not mark row 1: $(row 1)"
row 2 | grep -q '^> ' || fail "Space did not move down: $(row 2)"
keys Space j V
wait_for '4 marked' 20 || fail "V did not mark rows 2-4: $(footer)"
for r in 1 2 3 4; do
	row $r | grep -q '^.\*' || fail "row $r not marked after V: $(row $r)"
done
row 5 | grep -q '^.\*' && fail "row 5 marked after V"
keys U
wait_for 'marks cleared' 20 || fail "U: no message"
rows | grep -q '^.\*' && fail "a row still marked after U"
footer | grep -q 'marked' && fail "the footer still counts marks after U"

# --- x: the action menu, inputs, confirmation ---------------------------
keys g Space Space Space
wait_for '3 marked' 20 || fail "three Spaces did not mark three rows"
NAMES=$(rows | sed -n 1,3p | cut -c4- | awk '{ print $2 }' | sort)
keys x
wait_for 'Actions for 3 nodes' 20 || fail "x: no action menu"
cap | grep -q '> record  *local' || fail "the menu lacks record"
cap | grep -q 'wipe  *local  *\[dangerous\]' || fail "the menu lacks wipe"
keys Enter
wait_for '^record: tag \(a word\): abc' 20 || fail "no input prompt with its default: $(footer)"
keys C-u X Y Enter
wait_for "tag: 'XY' does not match \\[a-z\\]\\+" 20 || fail "no pattern error in place: $(footer)"
footer | grep -q '^record: tag' || fail "the prompt closed after a bad input"
keys C-u o k Enter
wait_for 'Run record\?' 20 || fail "no confirmation"
cap | grep -q 'input tag = ok' || fail "the confirmation does not show the input"
cap | grep -Eq '\[ Cancel \] +\[ Run \]' || fail "no Cancel/Run buttons"
keys Enter
wait_for 'cancelled: nothing was changed' 20 || fail "Enter on the default did not cancel: $(footer)"
sleep 1
[ -e "$TMP/names" ] && fail "the action ran although the confirmation was cancelled"
keys x Enter Enter
wait_for 'Run record\?' 20 || fail "no confirmation the second time"
keys Tab Enter
wait_for 'job #1 (started|record: succeeded)' 30 || fail "Tab Enter did not start the job: $(footer)"
wait_for 'job #1 record: succeeded, 3 ok' 50 || fail "the job did not succeed: $(footer)"
[ "$(sort "$TMP/names")" = "$NAMES" ] ||
    fail "the file has '$(tr '\n' ' ' < "$TMP/names")', want '$(echo $NAMES)'"
keys 5
wait_for 'ID +STATE +ACTION +TARGETS +HOSTS +WHO +ORIGIN' 20 || fail "5 did not open the jobs view"
cap | grep -Eq "^> +1 succeeded +record .* 3 ok +$ME +console " ||
    fail "the jobs view does not show job 1 succeeded"
keys Enter
wait_for 'job #1 +succeeded +record on ' 20 || fail "Enter did not show the job"
cap | grep -Eq '\(3 hosts\): ok, exit 0' || fail "no coalesced result of 3 hosts"
cap | grep -q 'tag abc' || fail "the job's output is not shown"
keys Escape
wait_for 'ID +STATE +ACTION' 20 || fail "Esc did not go back to the job list"

# --- a dangerous action wants its name --------------------------------------
keys 1 U g x j Enter
wait_for "DANGEROUS: type 'wipe'" 20 || fail "wipe did not ask for its name: $(footer)"
keys w i p Enter
wait_for "that is not 'wipe'" 20 || fail "a wrong name was not refused in place"
keys C-u w i p e Enter
wait_for 'job #2 wipe: succeeded, 1 ok' 50 || fail "wipe did not run: $(footer)"
[ "$(wc -l < "$TMP/wiped")" -eq 1 ] || fail "wipe ran on $(wc -l < "$TMP/wiped") nodes, want 1"

# --- a: ack with a comment; d: downtime -------------------------------------
keys 2 / c h e c k : c r i t - a Enter
wait_for "CRITICAL +[^ ]+ +crit-a " 50 || fail "no crit-a problem"
keys a
wait_for '^ack 1 row on [^ ]+, comment:' 20 || fail "a: no comment prompt: $(footer)"
keys o n Space i t Enter
wait_for 'acknowledged 1 problem' 20 || fail "ack: $(footer)"
wait_for "CRITICAL +[^ ]+ +crit-a +HARD +[0-9]+[smh] +A-- " 30 || fail "the ack flag is not shown"
keys Escape / c h e c k : c r i t - b Enter
wait_for "CRITICAL +[^ ]+ +crit-b " 20 || fail "no crit-b problem"
keys d
wait_for 'downtime for 1 row on [^ ]+, duration: 2h' 20 || fail "d: no duration prompt with 2h: $(footer)"
keys C-u 9 x Enter
wait_for "'9x' is not a duration" 20 || fail "a bad duration is not shown in place"
keys C-u 3 0 m Enter
wait_for '^downtime 30m, comment:' 20 || fail "no comment prompt after the duration"
keys m a i n t Enter
wait_for 'downtime of 30m for 1 row' 20 || fail "downtime: $(footer)"
wait_for "CRITICAL +[^ ]+ +crit-b +[A-Z0-9/ ]+ +[0-9]+[smh] +-D- " 30 || fail "the downtime flag is not shown"
keys Escape
# Command mode: completion, and :downtime with its arguments.
keys : r u n Space r e c Tab
wait_for '^:run record ' 20 || fail ":run rec<Tab> did not complete: $(footer)"
keys Enter
wait_for '^record: tag' 20 || fail ":run record did not ask for the input"
keys Escape
wait_for 'cancelled' 20 || fail "Esc did not cancel the prompt"

# --- the audit view -----------------------------------------------------------
keys 6
wait_for 'TIME +WHO +ROLE +ACTION +TARGET +RESULT' 20 || fail "6 did not open the audit view"
wait_for 'chain: intact, [1-9][0-9]* rows, head [0-9a-f]{16}' 50 ||
    fail "no chain status: $(cap | sed -n 3p)"
cap | grep -Eq "$ME +admin +ack +[^ ]+/crit-a +ok +.*\"comment\":\"on it\"" ||
    fail "no audit row for the ack"
cap | grep -Eq "$ME +admin +downtime +[^ ]+/crit-b +" || fail "no audit row for the downtime"
cap | grep -Eq "$ME +admin +run +.* +started job 1 " || fail "no audit row for the run"
quit

# --- --readonly: hidden and refused; the shell-out ------------------------------
printf '[web]\nweb01 ansible_host=127.0.0.1 ansible_port=2222 ansible_user=deploy\n' > "$TMP/inv.ini"
start --demo=0 -c "$TMP/config.json" -i "$TMP/inv.ini" --readonly --state "$TMP/ro.db"
cap | sed -n 1p | grep -Eq "\\[read-only\\] .* $ME \\(viewer\\) " ||
    fail "the header does not say read-only and viewer: $(cap | sed -n 1p)"
keys 2
wait_for "CRITICAL +[^ ]+ +crit-a " 50 || fail "no crit-a problem (read-only)"
footer | grep -Eq ' a ack | d downtime | x action ' && fail "acting keys in a viewer's footer: $(footer)"
footer | grep -q 'Space mark' || fail "no mark hint in the problems footer"
keys '?'
wait_for 'Keys of the problems view' 20 || fail "? did not show the help"
cap | grep -Eq '^ +[adxr] +(ack|downtime|action|reset)' && fail "acting keys in a viewer's help"
cap | grep -q ':run ACTION' && fail ":run in a viewer's help"
cap | grep -Eq '^ +Space +mark' || fail "the help lacks Space"
keys Escape a
wait_for "refused: user $ME has role viewer; ack needs operator or admin" 20 ||
    fail "a was not refused by the engine: $(footer)"
keys x
wait_for "refused: user $ME has role viewer; run needs" 20 || fail "x was not refused: $(footer)"
keys 6
wait_for "refused: user $ME has role viewer; audit-read needs" 20 || fail "the audit view was not refused"
keys 1 / w e b 0 1 Enter
wait_for '^>[* ] [A-Z]+ +web01 ' 30 || fail "web01 not selected in the fleet"
keys o
wait_for 'ssh web01: exit 3' 50 || fail "the console did not come back after ssh: $(footer)"
[ "$(cat "$TMP/ssh-argv" 2>/dev/null)" = "-p 2222 -l deploy -- 127.0.0.1" ] ||
    fail "ssh ran with '$(cat "$TMP/ssh-argv" 2>/dev/null)'"
cap | sed -n 1p | grep -q NexusController || fail "no header after the shell-out"
cap | grep -q 'STATE  *NAME  *ADDRESS' || fail "no table after the shell-out"
quit
# The refusals are rows of the store's audit chain.
"$NEXUSCTL" audit verify --state "$TMP/ro.db" >/dev/null || fail "the read-only console's chain is broken"
"$NEXUSCTL" audit list --state "$TMP/ro.db" --format json > "$TMP/ro.json" ||
    fail "audit list failed"
for what in ack run audit-read; do
	n=$(jq --arg me "$ME" --arg what "$what" '[.[] | select(.who == $me and
	    .role == "viewer" and .action == $what and
	    (.result | startswith("refused: user")))] | length' "$TMP/ro.json")
	[ "$n" -ge 1 ] || fail "no refused $what row of the viewer in the store"
done

# --- an auditor sees the refusals in the audit view ------------------------------
config "\"roles\": { \"default\": \"viewer\", \"auditor\": { \"users\": [\"$ME\"] } }," > "$TMP/auditor.json"
start --demo=0 -c "$TMP/auditor.json"
cap | sed -n 1p | grep -Eq " $ME \\(auditor\\) " || fail "the header does not say auditor"
keys 2
wait_for "CRITICAL +[^ ]+ +crit-a " 50 || fail "no crit-a problem (auditor)"
keys a
wait_for "refused: user $ME has role auditor; ack needs" 20 || fail "an auditor's a was not refused"
keys 6
wait_for 'TIME +WHO +ROLE +ACTION' 20 || fail "the auditor cannot open the audit view"
cap | grep -Eq "$ME +auditor +ack +[^ ]+/[^ ]+ +refused: user $ME has role auditor" ||
    fail "no audit row for the refused ack"
quit

echo "PASS: acting (marks, action menu and confirmation, jobs, ack, downtime, audit, read-only, ssh)"
exit 0

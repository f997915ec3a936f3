#!/bin/sh
#
# approve.sh - remediation in approve mode through the console, in a
# private tmux server (own socket, no config file; the trap kills only that
# server), read back with capture-pane.  Every wait is a bounded poll.
#
# This machine's checks crit-a and crit-b always say CRITICAL; rules
# fix-a and fix-b (mode approve) propose the local action `fix`, which
# writes $HOSTNAME$ to a file.  In the jobs view (5):
#   - both proposals appear, state proposed, origin rule:NAME; Enter shows
#     the proposal (the command) and "waiting for approval"
#   - A on one asks for confirmation showing the proposal; Enter (Cancel,
#     the default) leaves it proposed and runs nothing; Tab Enter approves
#     it: it runs, succeeds, the file has the node's name, and the job
#     records the remediation outcome (crit-a stays CRITICAL: not
#     recovered)
#   - :reject N asks for a reason; the job is rejected and never runs
#   - the audit view has the approve and reject rows
# and with an auto rule whose fix does not fix (breaker after 1 run): r on
# the problem shows the open breaker in a confirmation (Cancel default),
# Tab Enter resets it through the API, and the audit view has the row.
#
set -u

SOCKBASE=nxapprove-$$
. "${TOP_SRCDIR:-$(dirname "$0")/../..}/tests/tui/lib.sh"

footer() {
	cap | tail -n 1
}

keys() {
	tm send-keys -t nx "$@"
	sleep 0.2
}

ME=$(id -un)
cat > "$TMP/crit.sh" <<'EOF'
#!/bin/sh
echo "CRITICAL - broken on purpose"
exit 2
EOF
chmod +x "$TMP/crit.sh"
cat > "$TMP/config.json" <<EOF
{ "demo": { "local": true },
  "checks": { "interval": "2s", "retry_interval": "1s", "define": [
    { "name": "crit-a", "kind": "plugin", "local": true, "command": ["$TMP/crit.sh"] },
    { "name": "crit-b", "kind": "plugin", "local": true, "command": ["$TMP/crit.sh"] }
  ] },
  "actions": { "define": [
    { "name": "fix", "description": "fix it", "kind": "local", "confirm": true,
      "command": "echo \$HOSTNAME\$ >> '$TMP/fixed'" } ] },
  "remediation": { "rules": [
    { "name": "fix-a", "check": "^crit-a\$", "action": "fix", "mode": "approve" },
    { "name": "fix-b", "check": "^crit-b\$", "action": "fix", "mode": "approve" }
  ] } }
EOF
"$NEXUSCTL" config check -c "$TMP/config.json" >/dev/null 2>&1 ||
    fail "the test configuration does not load: $("$NEXUSCTL" config check -c "$TMP/config.json" 2>&1)"

new_server "sh -c 'ulimit -c 0; \"\$0\" \"\$@\"; echo EXIT=\$?; sleep 60' '$NEXUSCTL' --demo=0 -c '$TMP/config.json'"
wait_for '[0-9]+ nodes' 30 || fail "no node count in the header within 3 s"
LOCAL=$(rows | sed -n 1p | cut -c4- | awk '{ print $2 }')
[ -n "$LOCAL" ] || fail "no local node row"

keys 5
wait_for 'ID +STATE +ACTION +TARGETS +HOSTS +WHO +ORIGIN' 20 || fail "5 did not open the jobs view"
wait_for 'proposed +fix .* rule:fix-a' 100 || fail "no proposal of fix-a within 10 s"
wait_for 'proposed +fix .* rule:fix-b' 100 || fail "no proposal of fix-b within 10 s"
# The newest job is selected; approve that one, reject the other.
FIRST=$(cap | grep -E '^> +[0-9]+ proposed ' | awk '{ print $2 }')
RULE=$(cap | grep -E '^> +[0-9]+ proposed ' | grep -Eo 'rule:fix-[ab]')
[ -n "$FIRST" ] && [ -n "$RULE" ] || fail "the newest proposal is not selected"
if [ "$RULE" = rule:fix-a ]; then OTHER_RULE=rule:fix-b; else OTHER_RULE=rule:fix-a; fi
OTHER=$(cap | grep -E "proposed .* $OTHER_RULE" | sed 's/^>//' | awk '{ print $1 }')

keys Enter
wait_for "job #$FIRST +proposed +fix on $LOCAL" 20 || fail "Enter did not show the proposal"
cap | grep -q "local command: echo \$HOSTNAME\$ >> '$TMP/fixed'" || fail "the proposal does not show the command"
cap | grep -q 'waiting for approval' || fail "no 'waiting for approval'"
keys Escape A
wait_for "Approve job #$FIRST\\?" 20 || fail "A did not ask for confirmation: $(footer)"
cap | grep -q "local command: echo" || fail "the confirmation does not show the proposal"
keys Enter
wait_for 'cancelled: nothing was changed' 20 || fail "Enter on Cancel did not cancel"
sleep 1
[ -e "$TMP/fixed" ] && fail "the fix ran although the approval was cancelled"
cap | grep -Eq "^> +$FIRST proposed " || fail "job $FIRST is no longer proposed after Cancel"
keys A
wait_for "Approve job #$FIRST\\?" 20 || fail "A did not ask again"
keys Tab Enter
wait_for "job #$FIRST (approved|fix: succeeded)" 20 || fail "approve: $(footer)"
wait_for "^> +$FIRST succeeded +fix " 100 || fail "the approved job did not succeed"
[ "$(cat "$TMP/fixed" 2>/dev/null)" = "$LOCAL" ] || fail "the fix wrote '$(cat "$TMP/fixed" 2>/dev/null)', want $LOCAL"
wait_for "^> +$FIRST succeeded .* not recovered " 100 || fail "no remediation outcome on job $FIRST"

keys : r e j e c t Space $OTHER Enter
wait_for "^reject job #$OTHER \\(fix\\), reason:" 20 || fail ":reject did not ask for a reason: $(footer)"
keys f l a k y Enter
wait_for "job #$OTHER rejected" 20 || fail "reject: $(footer)"
wait_for " $OTHER rejected +fix " 20 || fail "job $OTHER is not shown rejected"
sleep 1
[ "$(wc -l < "$TMP/fixed")" -eq 1 ] || fail "the rejected job ran"

keys 6
wait_for 'TIME +WHO +ROLE +ACTION' 20 || fail "6 did not open the audit view"
cap | grep -Eq "$ME +admin +approve +$LOCAL +approved job $FIRST " ||
    fail "no audit row for the approval"
cap | grep -Eq "$ME +admin +reject +$LOCAL +rejected job $OTHER " ||
    fail "no audit row for the rejection"
cap | grep -Eq " job +$LOCAL +rejected: flaky " || fail "the job's end does not give the reason"
keys q
wait_for '^EXIT=0$' 50 || fail "q did not exit 0"

# --- r: an open breaker, reset from the problems view ----------------------
cat > "$TMP/breaker.json" <<EOF
{ "demo": { "local": true },
  "checks": { "interval": "1s", "retry_interval": "1s", "max_attempts": 1, "define": [
    { "name": "crit-c", "kind": "plugin", "local": true, "command": ["$TMP/crit.sh"] } ] },
  "actions": { "define": [
    { "name": "nofix", "kind": "local", "command": "echo \$HOSTNAME\$ >> '$TMP/nofix'" } ] },
  "remediation": { "rules": [
    { "name": "fix-c", "check": "^crit-c\$", "action": "nofix", "mode": "auto",
      "cooldown": "1s", "breaker": { "runs": 1, "window": "30m" } } ] } }
EOF
"$NEXUSCTL" config check -c "$TMP/breaker.json" >/dev/null 2>&1 ||
    fail "the breaker configuration does not load: $("$NEXUSCTL" config check -c "$TMP/breaker.json" 2>&1)"
new_server "sh -c 'ulimit -c 0; \"\$0\" \"\$@\"; echo EXIT=\$?; sleep 60' '$NEXUSCTL' --demo=0 -c '$TMP/breaker.json'"
wait_for '[0-9]+ nodes' 30 || fail "no node count in the header (breaker)"
keys 2 / c h e c k : c r i t - c Enter
wait_for "CRITICAL +[^ ]+ +crit-c " 50 || fail "no crit-c problem"
keys r
wait_for 'reset: no remediation breaker is open|Reset remediation breakers\?' 20 ||
    fail "r did nothing: $(footer)"
n=0
while ! cap | grep -q 'Reset remediation breakers?'; do
	n=$((n + 1))
	[ "$n" -lt 30 ] || fail "the breaker never opened: $(footer)"
	sleep 0.5
	keys r
done
cap | grep -Eq "rule fix-c on $LOCAL \(1 runs without recovery\)" || fail "the confirmation does not name the breaker"
keys Enter
wait_for 'cancelled: nothing was changed' 20 || fail "Enter on Cancel did not cancel the reset"
keys r
wait_for 'Reset remediation breakers\?' 20 || fail "r did not ask again"
keys Tab Enter
wait_for '1 remediation breaker reset' 20 || fail "reset: $(footer)"
keys 6
wait_for 'TIME +WHO +ROLE +ACTION' 20 || fail "6 did not open the audit view"
cap | grep -Eq "$ME +admin +rule-reset +fix-c@$LOCAL +ok " || fail "no audit row for the reset"
keys q
wait_for '^EXIT=0$' 50 || fail "q did not exit 0 (breaker)"
echo "PASS: approve (proposals in the jobs view, Cancel by default, approve runs, reject with a reason, breaker reset)"
exit 0

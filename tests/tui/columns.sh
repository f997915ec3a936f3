#!/bin/sh
#
# columns.sh - the fleet view's columns chosen by console.columns and by
# :columns, driven in a private tmux server (tests/tui/lib.sh) and read
# back with capture-pane.  Every wait is a bounded poll.
#
#   - a configuration choosing ["name", "state", "load"]: the title line
#     shows NAME, STATE, LOAD in that order and no other title, and the
#     rows show a name, a state and a number in that order
#   - a pane too narrow for all three drops LOAD, keeps NAME and STATE
#   - :columns lists the names and those shown; :columns cpu,name shows
#     CPU then NAME; :columns lod is an error naming "load"
#   - `config check` rejects an unknown name with file:line:column
#
set -u

SOCKBASE=nxcolumns-$$
. "${TOP_SRCDIR:-$(dirname "$0")/../..}/tests/tui/lib.sh"

OTHERS='ADDRESS|GROUP|CPU|MEM|DISK|LAST CHANGE'

# titles: the column title line of the fleet view (the line with NAME).
titles() {
	cap | grep -E '^ +NAME( |$)|^ +[A-Z ]+ NAME( |$)' | head -n 1
}

printf '{"console": {"columns": ["name", "state", "load"]}}\n' \
    > "$TMP/cols.json"
new_server "sh -c 'ulimit -c 0; \"\$0\" \"\$@\"; echo EXIT=\$?; sleep 60' '$NEXUSCTL' -c '$TMP/cols.json' --demo=200"
wait_for '[0-9]+ nodes' 30 || fail "no node count in the header within 3 s"
wait_for '^   NAME +STATE +LOAD *$' 30 ||
    fail "the title line is not NAME STATE LOAD"
t=$(titles)
echo "$t" | grep -Eq "$OTHERS" && fail "a column not chosen is shown: $t"
# The rows: a name, then a state, then a load (a number or -).
wait_for "^[> ][* ] [a-z][^ ]+ +($STATES) +([0-9]+(\.[0-9]+)?|-) *\$" 30 ||
    fail "the rows are not name, state, load"

# Narrow: LOAD goes (priority), NAME and STATE stay.
tm resize-window -t nx -x 30 >/dev/null 2>&1 ||
    fail "tmux resize-window"
wait_for '^   NAME +STATE *$' 30 || fail "at 30 columns: not NAME STATE"
tm resize-window -t nx -x 160 >/dev/null 2>&1
wait_for '^   NAME +STATE +LOAD *$' 30 || fail "LOAD did not come back"

# :columns lists the names and what is shown.
tm send-keys -t nx ':columns' Enter
wait_for 'columns: state name address group load cpu mem disk change \(shown: name,state,load\)' 30 ||
    fail ":columns did not list the names"
# :columns A,B chooses them for the session.
tm send-keys -t nx ':columns cpu,name' Enter
wait_for '^ +CPU NAME *$' 30 || fail ":columns cpu,name did not show CPU NAME"
t=$(titles)
echo "$t" | grep -Eq 'STATE|LOAD' && fail "a column not chosen is shown: $t"
tm send-keys -t nx ':columns lod' Enter
wait_for 'unknown column "lod" \(did you mean "load"\?\)' 30 ||
    fail ":columns lod is not an error naming load"
wait_for '^ +CPU NAME *$' 10 || fail "a bad :columns changed the columns"
tm send-keys -t nx q
wait_for '^EXIT=0$' 50 || fail "q did not exit 0"

# An unknown name in the file: an error at its place, nothing started.
printf '{"console": {\n  "columns": ["name", "stat"]}}\n' > "$TMP/bad.json"
out=$("$NEXUSCTL" config check -c "$TMP/bad.json" 2>&1) &&
    fail "config check accepted an unknown column"
echo "$out" | grep -Fq "$TMP/bad.json:2:14: console.columns[1]: unknown column \"stat\" (did you mean \"state\"?)" ||
    fail "config check: $out"

echo "PASS"
exit 0

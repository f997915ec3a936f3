#!/bin/sh
#
# console.sh - drive the real console in a private tmux server and read the
# screen back, as tmux's own regress/ tests do.
#
# Every tmux here runs on its own socket (-L nxtest-PID-N) with no config
# file, so the user's tmux is never touched; the trap kills only those
# servers.  Every wait is a bounded poll (0.1 s steps).
#
# What it checks, on `nexusctl --demo=5000` in a 160x48 pane:
#   - the header shows the node count within 2 s, and a full page of rows
#   - j moves the selection; PgDn/PgUp, ^F/^B, G/End, g/Home move the page
#     (the first row's name and the "rows A-B of N" position agree)
#   - resizing to 100x30 and 80x24 re-lays out (page size, dropped columns)
#   - colour by default, none at all with NO_COLOR=1, state words always
#   - q and Esc exit 0; ^C exits 130, SIGTERM 143, SIGSEGV dies by the
#     signal; every time the terminal is restored (normal screen, cursor
#     visible, keypad mode off)
#
set -u

SOCKBASE=nxtest-$$
. "${TOP_SRCDIR:-$(dirname "$0")/../..}/tests/tui/lib.sh"

# start [VAR=value ...]: the console in a new private server, 160x48.
# The shell around it traps SIGINT so that ^C (sent to the whole foreground
# process group) ends only the console and the shell lives to print EXIT=;
# the console itself starts with the default disposition.
start() {
	new_server "$* sh -c 'trap : INT; ulimit -c 0; \"\$0\" --demo=5000; echo EXIT=\$?; sleep 60' '$NEXUSCTL'"
	wait_for '[0-9]+ nodes' 20 || fail "no node count in the header within 2 s"
}

# row_name K: the NAME of the K-th table row.
row_name() {
	rows | sed -n "${1}p" | cut -c3- | awk '{ print $2 }'
}

position() {
	cap | grep -Eo 'rows [0-9]+-[0-9]+ of [0-9]+' | tail -n 1
}

# restored: the program has exited with status $1 and left the terminal sane.
restored() {
	wait_for "^EXIT=$1\$" 50 || fail "no EXIT=$1 after the console ended"
	[ "$(tm display -p -t nx '#{alternate_on}')" = 0 ] ||
	    fail "still on the alternate screen"
	[ "$(tm display -p -t nx '#{cursor_flag}')" = 1 ] ||
	    fail "cursor left hidden"
	[ "$(tm display -p -t nx '#{keypad_cursor_flag}')" = 0 ] ||
	    fail "keypad transmit mode left on"
	! cap | grep -q 'LAST CHANGE' || fail "the table is still on screen"
}

# keys KEY... then wait until the position differs from $1.
keys_then_moved() {
	before=$1
	shift
	tm send-keys -t nx "$@"
	n=0
	while [ "$n" -lt 30 ] && [ "$(position)" = "$before" ]; do
		sleep 0.1
		n=$((n + 1))
	done
}

# --- the table, navigation, resize, q ---------------------------------
start
N=$(cap | sed -n 1p | grep -Eo '[0-9]+ nodes' | cut -d' ' -f1)
[ "$N" -ge 5000 ] || fail "header shows $N nodes, want at least 5000"
cap | sed -n 1p | grep -q 'NexusController' || fail "no product name"
cap | sed -n 1p | grep -Eq '[0-9]+ events/s' || fail "no events/s"
cap | sed -n 1p | grep -Eq '[0-9]{2}:[0-9]{2}:[0-9]{2}' || fail "no clock"
cap | sed -n 2p | grep -Eq "($STATES) [0-9]+" || fail "no health counters"
# The built-in demo alone is not recorded, and the header says so.
cap | sed -n 2p | grep -q 'not recording$' || fail "no store state in the header"
cap | grep -q 'STATE  *NAME  *ADDRESS  *GROUP  *LOAD  *CPU  *MEM  *DISK  *LAST CHANGE' ||
    fail "column titles at 160 columns"
R=$(rows | wc -l)
[ "$R" -ge 40 ] || fail "only $R table rows in a 48-line pane"
[ "$(position)" = "rows 1-$R of $N" ] || fail "position '$(position)'"
cap | tail -n 1 | grep -q 'j/k move' || fail "no key hints in the footer"
FIRST=$(row_name 1)
LASTROW=$(row_name "$R")
rows | sed -n 1p | grep -q '^>' || fail "selection not on the first row"

tm send-keys -t nx j
n=0
while [ "$n" -lt 30 ] && ! rows | sed -n 2p | grep -q '^>'; do
	sleep 0.1
	n=$((n + 1))
done
rows | sed -n 2p | grep -q '^>' || fail "j did not move the selection"
rows | sed -n 1p | grep -q '^>' && fail "two selected rows after j"
tm send-keys -t nx k
wait_for "^>[* ] ($STATES) +$FIRST " 30 || fail "k did not move the selection back"

keys_then_moved "rows 1-$R of $N" NPage
[ "$(position)" = "rows $((R + 1))-$((2 * R)) of $N" ] ||
    fail "PgDn: position '$(position)'"
P2=$(row_name 1)
[ "$P2" != "$FIRST" ] && [ "$P2" != "$LASTROW" ] ||
    fail "PgDn: first row is $P2"
keys_then_moved "$(position)" PPage
[ "$(row_name 1)" = "$FIRST" ] || fail "PgUp: first row $(row_name 1), want $FIRST"
keys_then_moved "$(position)" C-f
[ "$(row_name 1)" = "$P2" ] || fail "^F: first row $(row_name 1), want $P2"
keys_then_moved "$(position)" C-b
[ "$(row_name 1)" = "$FIRST" ] || fail "^B: first row $(row_name 1), want $FIRST"

keys_then_moved "$(position)" G
[ "$(position)" = "rows $((N - R + 1))-$N of $N" ] || fail "G: position '$(position)'"
rows | sed -n "${R}p" | grep -q '^>' || fail "G: the last row is not selected"
LASTNODE=$(row_name "$R")
[ "$LASTNODE" != "$LASTROW" ] || fail "G: last row still $LASTNODE"
keys_then_moved "$(position)" g
[ "$(row_name 1)" = "$FIRST" ] || fail "g: first row $(row_name 1), want $FIRST"
[ "$(position)" = "rows 1-$R of $N" ] || fail "g: position '$(position)'"
keys_then_moved "$(position)" End
[ "$(row_name "$R")" = "$LASTNODE" ] || fail "End: last row $(row_name "$R")"
keys_then_moved "$(position)" Home
[ "$(row_name 1)" = "$FIRST" ] || fail "Home: first row $(row_name 1)"

tm resize-window -t nx -x 100 -y 30
wait_for "rows 1-26 of $N" 30 || fail "no re-layout at 100x30"
[ "$(cap | wc -l)" -eq 30 ] || fail "pane is not 30 lines"
[ "$(rows | wc -l)" -eq 26 ] || fail "$(rows | wc -l) rows at 100x30, want 26"
cap | tail -n 1 | grep -q "rows 1-26 of $N" || fail "footer not on the last line"
cap | grep -q 'STATE  *NAME  *ADDRESS  *GROUP  *LOAD  *CPU  *MEM  *DISK  *LAST CHANGE' ||
    fail "column titles at 100 columns"
tm resize-window -t nx -x 80 -y 24
wait_for "rows 1-20 of $N" 30 || fail "no re-layout at 80x24"
cap | grep -E 'STATE  *NAME' | grep -q 'DISK' && fail "DISK not dropped at 80 columns"
cap | grep -q 'STATE  *NAME  *ADDRESS  *GROUP  *LOAD  *CPU  *MEM  *LAST CHANGE' ||
    fail "column titles at 80 columns"
cap | awk 'length($0) > 80 { bad = 1 } END { exit bad }' || fail "a line wider than 80"
[ "$(row_name 1)" = "$FIRST" ] || fail "first row changed on resize"
tm resize-window -t nx -x 160 -y 48
wait_for "rows 1-$R of $N" 30 || fail "no re-layout back at 160x48"

tm send-keys -t nx q
restored 0

# --- colour, and none with NO_COLOR; Esc quits from the fleet view ------
colour_sgr() {
	tm capture-pane -p -e -t nx | grep -Eq "$ESC\\[([0-9;]*;)?(3[0-7]|4[0-7]|38|48|9[0-7]|10[0-7])[;m]"
}
start
colour_sgr || fail "no colours in the default theme"
tm send-keys -t nx Escape
restored 0

start NO_COLOR=1
rows | grep -Eq "^[> ][* ] ($STATES) " || fail "NO_COLOR: no state words"
colour_sgr && fail "NO_COLOR=1 but colours were sent"
tm capture-pane -p -e -t nx | grep -q "$ESC\\[[0-9;]*7m" ||
    fail "NO_COLOR: no reverse video for the title or selection"
tm send-keys -t nx q
restored 0

# --- signals -----------------------------------------------------------
# nexus_pid: the console's pid, found among the pane's descendants.
nexus_pid() {
	todo=$(tm display -p -t nx '#{pane_pid}')
	depth=0
	while [ -n "$todo" ] && [ "$depth" -lt 5 ]; do
		next=
		for p in $todo; do
			if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = nexusctl ]; then
				echo "$p"
				return 0
			fi
			next="$next $(ps -o pid= --ppid "$p" 2>/dev/null)"
		done
		todo=$next
		depth=$((depth + 1))
	done
	return 1
}

start
tm send-keys -t nx C-c
restored 130

start
PID=$(nexus_pid) || fail "cannot find the console's pid"
kill -TERM "$PID"
restored 143

start
PID=$(nexus_pid) || fail "cannot find the console's pid"
kill -SEGV "$PID"
# 139 = killed by SIGSEGV; a sanitizer build reports and exits 1 instead.
wait_for '^EXIT=(139|1)$' 50 || fail "no EXIT=139 after SIGSEGV"
[ "$(tm display -p -t nx '#{alternate_on}')" = 0 ] ||
    fail "SIGSEGV: still on the alternate screen"
[ "$(tm display -p -t nx '#{cursor_flag}')" = 1 ] ||
    fail "SIGSEGV: cursor left hidden"

echo "PASS: console ($N nodes, $R rows a page)"
exit 0

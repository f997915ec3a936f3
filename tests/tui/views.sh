#!/bin/sh
#
# views.sh - the console's views, filter, commands and help, driven in a
# private tmux server (own socket per run, no config file; the trap kills
# only those servers) and read back with capture-pane.  Every wait is a
# bounded poll.
#
# On `nexusctl --demo=5000` in a 160x48 pane:
#   - 2: the problems view lists only non-OK rows, most severe first
#   - Enter on a problem opens the node view (name, checks); Esc returns
#   - 3: the events view shows new events arriving; f pauses it
#   - ?: the help lists the current view's keys (from its key table)
#   - Tab / Shift-Tab cycle the views
#   - /state:crit shows only CRITICAL rows and the count in the footer;
#     Esc clears it; /[ shows the regex error and the console keeps going
#   - :sort load orders the rows by load; :bogus is an error; :theme mono
#     draws without colour
# and on an Ansible INI inventory whose variable carries CSI, OSC title,
# OSC 52 and C1 sequences: the node view shows them escaped (^[[2J ...),
# the pane is not retitled, no clipboard buffer is made, the header stays.
#
set -u

SOCKBASE=nxviews-$$
. "${TOP_SRCDIR:-$(dirname "$0")/../..}/tests/tui/lib.sh"
PROBLEMS='WARNING|CRITICAL|UNKNOWN|DOWN|UNREACHABLE'

# start ARGS...: the console with ARGS in a new private server, 160x48.
start() {
	new_server "sh -c 'ulimit -c 0; \"\$0\" \"\$@\"; echo EXIT=\$?; sleep 60' '$NEXUSCTL' $*"
	wait_for '[0-9]+ nodes' 30 || fail "no node count in the header within 3 s"
}

footer() {
	cap | tail -n 1
}

quit() {
	tm send-keys -t nx q
	wait_for '^EXIT=0$' 50 || fail "q did not exit 0"
}

# rank STATE: the problems order (DOWN first).
rank() {
	case $1 in
	DOWN) echo 0 ;;
	UNREACHABLE) echo 1 ;;
	CRITICAL) echo 2 ;;
	UNKNOWN) echo 3 ;;
	WARNING) echo 4 ;;
	*) echo 9 ;;
	esac
}

start --demo=5000

# --- problems ------------------------------------------------------------
tm send-keys -t nx 2
wait_for 'STATE +NODE +CHECK +ATTEMPT +DURATION +FLAGS +OUTPUT' 30 ||
    fail "2 did not open the problems view"
wait_for "^>[* ] ($PROBLEMS) " 50 || fail "no problem rows within 5 s"
# problems_ok: one capture of the problems view passes every check (a
# capture may catch tmux between two halves of a frame, so a few tries).
problems_ok() {
	cap > "$TMP/problems"
	grep -E "^[> ][* ] ($STATES) " "$TMP/problems" > "$TMP/prows"
	[ -s "$TMP/prows" ] || { why="no problem rows"; return 1; }
	grep -Eq "^[> ][* ] (OK|PENDING) " "$TMP/prows" &&
	    { why="an OK row in the problems view"; return 1; }
	grep -Eq "^[> ][* ] ($PROBLEMS) +[^ ]+ +[^ ]+ +(SOFT [0-9]+/[0-9]+|HARD) " \
	    "$TMP/prows" || { why="no ATTEMPT column (SOFT n/m or HARD)"; return 1; }
	# Most severe first: the ranks never go down the page.
	prev=0
	for st in $(cut -c3- "$TMP/prows" | awk '{ print $1 }'); do
		r=$(rank "$st")
		[ "$r" -ge "$prev" ] ||
		    { why="problems out of order: $st after rank $prev"; return 1; }
		prev=$r
	done
	FIRSTSTATE=$(head -n 1 "$TMP/prows" | cut -c3- | awk '{ print $1 }')
	FIRSTNODE=$(head -n 1 "$TMP/prows" | cut -c3- | awk '{ print $2 }')
	FIRSTCHECK=$(head -n 1 "$TMP/prows" | cut -c3- | awk '{ print $3 }')
	best=9
	for st in $(cut -c3- "$TMP/prows" | awk '{ print $1 }'); do
		r=$(rank "$st")
		[ "$r" -lt "$best" ] && best=$r
	done
	[ "$(rank "$FIRSTSTATE")" -eq "$best" ] ||
	    { why="first problem is $FIRSTSTATE, not the most severe"; return 1; }
	# ... and the most severe of the whole fleet: the header counts nodes
	# by health, which is a node's worst state.
	worst=9
	for st in $(sed -n 2p "$TMP/problems" | grep -Eo "($PROBLEMS) [1-9][0-9]*" |
	    cut -d' ' -f1); do
		r=$(rank "$st")
		[ "$r" -lt "$worst" ] && worst=$r
	done
	[ "$(rank "$FIRSTSTATE")" -eq "$worst" ] ||
	    { why="first problem is $FIRSTSTATE, the header has worse"; return 1; }
	return 0
}
tries=0
until problems_ok; do
	tries=$((tries + 1))
	[ "$tries" -lt 5 ] || fail "$why"
	sleep 0.2
done
footer | grep -Eq 'rows 1-[0-9]+ of [0-9]+' || fail "no position in the problems footer"

# --- Enter: the node view; Esc back -------------------------------------
tm send-keys -t nx Enter
wait_for "^ $FIRSTNODE " 30 || fail "Enter did not open the node view of $FIRSTNODE"
wait_for 'CHECKS \([0-9]+\)' 10 || fail "no CHECKS in the node view"
cap | grep -Eq "^  ($STATES) +$FIRSTCHECK " || fail "check $FIRSTCHECK not in the node view"
cap | grep -Eq '^  address +[0-9.]+' || fail "no address in the node view"
cap | grep -q 'METRICS' || fail "no metrics in the node view"
footer | grep -q 'Esc back' || fail "no Esc hint in the node view"
tm send-keys -t nx Escape
wait_for 'STATE +NODE +CHECK +ATTEMPT' 30 || fail "Esc did not return to the problems view"

# --- events: live, then paused -------------------------------------------
tm send-keys -t nx 3
wait_for 'TIME +KIND +NODE +CHECK +STATE +TEXT' 30 || fail "3 did not open the events view"
wait_for 'following \| [0-9]+ events' 10 || fail "events view not following"
count() {
	footer | grep -Eo '[0-9]+ events' | cut -d' ' -f1
}
last_event() {
	cap | grep -E '^[0-9]{2}:[0-9]{2}:[0-9]{2} ' | tail -n 1
}
C1=$(count)
L1=$(last_event)
n=0
while [ "$n" -lt 30 ] && [ "$(last_event)" = "$L1" ]; do
	sleep 0.1
	n=$((n + 1))
done
[ "$(last_event)" != "$L1" ] || fail "no new event at the bottom within 3 s"
[ "$(count)" -gt "$C1" ] || fail "event count did not grow"
tm send-keys -t nx f
wait_for 'paused, [0-9]+ newer' 20 || fail "f did not pause"
cap | grep -E '^[0-9]{2}:[0-9]{2}:[0-9]{2} ' > "$TMP/ev1"
sleep 1.5
cap | grep -E '^[0-9]{2}:[0-9]{2}:[0-9]{2} ' > "$TMP/ev2"
cmp -s "$TMP/ev1" "$TMP/ev2" || fail "paused events view moved"
footer | grep -Eq 'paused, [1-9][0-9]* newer' || fail "no newer events counted while paused"
tm send-keys -t nx Space
wait_for 'following \|' 20 || fail "Space did not follow again"

# --- help: the keys of the current view ----------------------------------
tm send-keys -t nx '?'
wait_for 'Keys of the events view' 20 || fail "? did not show the help"
cap | grep -Eq '^ +f, Space +follow/pause' || fail "help lacks the events view's f key"
cap | grep -Eq '^ +q +quit' || fail "help lacks the global q"
cap | grep -q ':sort COLUMN' || fail "help lacks the commands"
tm send-keys -t nx Escape
wait_for 'TIME +KIND +NODE' 20 || fail "Esc did not close the help"
tm send-keys -t nx 1 '?'
wait_for 'Keys of the fleet view' 20 || fail "? in the fleet view"
cap | grep -Eq '^ +s +sort' || fail "fleet help lacks s"
cap | grep -Eq '^ +/ +filter' || fail "fleet help lacks /"
tm send-keys -t nx '?'
wait_for 'STATE +NAME +ADDRESS' 20 || fail "? did not close the help"

# --- Tab and Shift-Tab ---------------------------------------------------
tm send-keys -t nx Tab
wait_for 'STATE +NODE +CHECK +ATTEMPT' 20 || fail "Tab did not go to problems"
tm send-keys -t nx BTab
wait_for 'STATE +NAME +ADDRESS' 20 || fail "Shift-Tab did not come back to the fleet"

# --- the filter -----------------------------------------------------------
N=$(cap | sed -n 1p | grep -Eo '[0-9]+ nodes' | cut -d' ' -f1)
tm send-keys -t nx / s t a t e : c r i t
wait_for '^/state:crit' 20 || fail "the filter line is not in the footer"
wait_for "[0-9]+ of $N match" 20 || fail "no match count in the footer"
tm send-keys -t nx Enter
wait_for "[0-9]+ of $N match" 20 || fail "Enter dropped the filter"
M=$(footer | grep -Eo "[0-9]+ of $N match" | cut -d' ' -f1)
[ "$M" -gt 0 ] && [ "$M" -lt "$N" ] || fail "state:crit matches $M of $N"
tries=0
while rows | grep -Evq '^[> ][* ] CRITICAL '; do
	tries=$((tries + 1))
	[ "$tries" -lt 5 ] || fail "a non-CRITICAL row under state:crit"
	sleep 0.2
done
R=$(rows | wc -l)
[ "$R" -ge 1 ] || fail "no rows under state:crit"
footer | grep -Eq "rows 1-[0-9]+ of [0-9]+ \| $M of $N" || fail "position under the filter"
tm send-keys -t nx Escape
wait_for "rows 1-[0-9]+ of $N\$" 20 || fail "Esc did not clear the filter"
cap | grep -q "EXIT=" && fail "Esc with a filter quit the console"

tm send-keys -t nx / '['
wait_for 'bad regex' 20 || fail "/[ shows no error"
footer | grep -Eq 'column [0-9]+' || fail "the error names no column"
tm send-keys -t nx Escape
wait_for "rows 1-[0-9]+ of $N\$" 20 || fail "Esc after a bad regex"
H1=$(cap | sed -n 1p)
sleep 1.2
[ "$(cap | sed -n 1p)" != "$H1" ] || fail "the console stopped after a bad regex"

# --- commands ------------------------------------------------------------
tm send-keys -t nx : s o r t Space l o a d Enter
wait_for 'by load' 20 || fail ":sort load not in the footer"
by_load() {
	rows | cut -c3- | awk '{ print $5 }' | grep -E '^[0-9.]+$' > "$TMP/loads"
	[ "$(wc -l < "$TMP/loads")" -ge 20 ] &&
	    sort -g -r "$TMP/loads" | cmp -s - "$TMP/loads"
}
tries=0
until by_load; do
	tries=$((tries + 1))
	[ "$tries" -lt 5 ] || fail "rows not in load order: $(tr '\n' ' ' < "$TMP/loads")"
	sleep 0.2
done
tm send-keys -t nx : b o g u s Enter
wait_for "unknown command 'bogus'" 20 || fail ":bogus is not an error"
# History: Up recalls the last line.
tm send-keys -t nx : Up
wait_for '^:bogus' 20 || fail "Up did not recall the last command"
tm send-keys -t nx C-u p r o Tab
wait_for '^:problems' 20 || fail "Tab did not complete :pro"
tm send-keys -t nx Enter
wait_for 'STATE +NODE +CHECK +ATTEMPT' 20 || fail ":problems"
colour_sgr() {
	tm capture-pane -p -e -t nx | grep -Eq "$ESC\\[([0-9;]*;)?(3[0-7]|4[0-7]|38|48|9[0-7]|10[0-7])[;m]"
}
colour_sgr || fail "no colour before :theme mono"
tm send-keys -t nx : t h e m e Space m o n o Enter
wait_for 'theme mono' 20 || fail ":theme mono"
sleep 0.3
colour_sgr && fail ":theme mono still draws colours"
quit

# --- escape injection from an inventory variable -------------------------
printf '[web]\nweb01 ansible_host=192.0.2.10 motd="A\033[2JB\033]0;pwned\007C\033]52;c;cHduZWQ=\007D\302\233E"\n' \
    > "$TMP/hostile.ini"
start -i "$TMP/hostile.ini"
TITLE0=$(tm display -p -t nx '#{pane_title}')
tm send-keys -t nx : n o d e Space w e b 0 1 Enter
wait_for '^ web01 ' 30 || fail ":node web01 did not open the node view"
wait_for 'VARIABLES' 20 || fail "no variables in the node view"
line=$(cap | grep -E '^  motd ')
[ -n "$line" ] || fail "no motd variable shown"
printf '%s\n' "$line" | grep -qF 'A^[[2JB^[]0;pwned^GC^[]52;c;cHduZWQ=^GD\x9bE' ||
    fail "motd not shown escaped: $line"
cap | sed -n 1p | grep -q NexusController || fail "the header is gone (screen cleared?)"
[ "$(tm display -p -t nx '#{pane_title}')" = "$TITLE0" ] ||
    fail "the pane was retitled to '$(tm display -p -t nx '#{pane_title}')'"
[ -z "$(tm list-buffers 2>/dev/null)" ] || fail "OSC 52 reached the clipboard"
tm capture-pane -p -e -t nx | grep -q "$ESC\\]" && fail "an OSC sequence on screen"
quit

echo "PASS: views (problems, node, events, help, filter $M of $N, sort, theme, escapes)"
exit 0

#!/bin/sh
#
# tmux-dashboard.sh - a tmux session for a wall screen or an on-call shift:
# the nexusctl console on top, below it the stream of state changes from
# `nexusctl watch` (one line per change, through jq when it is installed).
#
# usage: tmux-dashboard.sh [-d] [-s SESSION] [-- NEXUSCTL_OPTIONS...]
#   -d          create the session detached (for a dashboard started by cron
#               or systemd); attach later with `tmux attach -t SESSION`
#   -s SESSION  session name (default: nexus)
#   NEXUSCTL_OPTIONS go to both panes, e.g. `-- -c ~/fleet.json` or `-- --demo=500`
#
# NEXUSCTL names the binary (default: nexusctl from $PATH).  If the session
# already exists it is attached, not created again.
#
set -eu

session=nexus
detach=
while getopts ds: opt; do
	case $opt in
	d) detach=1 ;;
	s) session=$OPTARG ;;
	*) sed -n '6,10s/^# \{0,1\}//p' "$0" >&2; exit 64 ;;
	esac
done
shift $((OPTIND - 1))

command -v tmux >/dev/null 2>&1 || { echo "tmux-dashboard.sh: tmux is not installed" >&2; exit 1; }
nexusctl=${NEXUSCTL:-nexusctl}
command -v "$nexusctl" >/dev/null 2>&1 || {
	echo "tmux-dashboard.sh: '$nexusctl' not found (set NEXUSCTL=/path/to/nexusctl)" >&2
	exit 1
}

# Quote each argument for the shell that tmux starts in a pane.
quote() {
	for a in "$@"; do
		printf "'%s' " "$(printf '%s' "$a" | sed "s/'/'\\\\''/g")"
	done
}
bin=$(quote "$nexusctl")
opts=$(quote "$@")

if command -v jq >/dev/null 2>&1; then
	# Only state changes, as "time node/check PREV -> STATE output".
	events="$bin watch $opts--format json | jq --unbuffered -r 'select(.kind == \"state\") | \"\\(.time | floor | strftime(\"%H:%M:%S\")) \\(.node)/\\(.check) \\(.prev_state) -> \\(.state) \\(.output // \"\" | split(\"|\")[0])\"'"
else
	events="$bin watch $opts--format json"
fi

if ! tmux has-session -t "=$session" 2>/dev/null; then
	# One tmux command list, so that a pane whose command exits at once
	# (bad option, no config) stays on screen with its message.
	tmux new-session -d -s "$session" -n fleet -x "${COLUMNS:-200}" -y "${LINES:-50}" \
	    \; set-option remain-on-exit on \
	    \; respawn-pane -k "$bin console $opts" \
	    \; split-window -v -l 12 "$events" \
	    \; select-pane -t 0
fi
if [ -n "$detach" ]; then
	echo "session '$session' is running: tmux attach -t $session"
elif [ -n "${TMUX:-}" ]; then
	tmux switch-client -t "=$session"
else
	exec tmux attach -t "=$session"
fi

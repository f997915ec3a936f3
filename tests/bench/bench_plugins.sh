#!/bin/sh
# bench_plugins.sh - plugin checks per second through the engine (see
# bench_plugins.c), with the machine's load before and after, since the
# figure depends on what else runs.  Not a test: prints figures.
#
#	tests/bench/bench_plugins.sh [BINARY] [bench_plugins options]
BIN=${1:-./tests/bench/bench_plugins}
[ $# -gt 0 ] && shift
[ -x "$BIN" ] || { echo "build it first: make tests/bench/bench_plugins" >&2; exit 1; }
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$BIN" "$@"
rc=$?
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
exit $rc

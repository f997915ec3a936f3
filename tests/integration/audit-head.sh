#!/bin/sh
# audit-head.sh - anchoring the audit chain's head outside the file, with
# the real binary:
#  1. `audit head` prints SEQ:HASH (text) or a JSON line; --output appends
#     whole lines to a file (0600); `audit verify --head` accepts each
#     form (SEQ:HASH, the bare HASH, the JSON line) and catches a
#     truncation hidden in meta that a plain verify misses.
#  2. --syslog: in a private mount namespace whose /dev/log is a socket
#     this test listens on, the message arrives with facility LOG_AUTH,
#     priority LOG_NOTICE and the tag nexusctl-audit (skipped without
#     unshare).
#  3. `nexusctl engine` with store.audit_head_file writes the head at
#     start and at stop; that line verifies the chain.
#  4. Usage errors (64), an unwritable --output (73); a bad
#     store.audit_head_file (78, file:line:column).
set -u

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

: "${NEXUSCTL:?}"
command -v sqlite3 >/dev/null 2>&1 || { echo "SKIP: no sqlite3 CLI"; exit 77; }
command -v jq >/dev/null 2>&1 || { echo "SKIP: no jq"; exit 77; }
INGEST=$(dirname "$NEXUSCTL")/tests/integration/store_ingest
[ -x "$INGEST" ] || { echo "SKIP: no store_ingest"; exit 77; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/nx-audit-head-XXXXXX") || exit 99
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
HOME=$dir/home XDG_STATE_HOME=$dir/xdg-state XDG_CONFIG_HOME=$dir/xdg-config
export HOME XDG_STATE_HOME XDG_CONFIG_HOME
mkdir -p "$HOME"
db=$dir/state.db

# Two runs of store_ingest: two audit rows ("engine start").
for i in 1 2; do
	"$INGEST" "$db" 1 >/dev/null 2>"$dir/ingest-err" ||
	    fail "store_ingest: $(cat "$dir/ingest-err")"
done

# 1. The forms of the head.
head=$("$NEXUSCTL" audit head --state "$db") || fail "audit head failed"
echo "$head" | grep -Eq '^2:[0-9a-f]{64}$' || fail "audit head printed '$head'"
hash=${head#2:}
"$NEXUSCTL" audit head --state "$db" --format json --output "$dir/anchors" \
    >"$dir/json" || fail "audit head --format json --output failed"
[ "$(jq -r '.seq' "$dir/json")" = 2 ] || fail "json seq: $(cat "$dir/json")"
[ "$(jq -r '.hash' "$dir/json")" = "$hash" ] || fail "json hash: $(cat "$dir/json")"
[ "$(jq -r '.head' "$dir/json")" = "$head" ] || fail "json head: $(cat "$dir/json")"
[ "$(jq -r '.state' "$dir/json")" = "$db" ] || fail "json state: $(cat "$dir/json")"
jq -r '.time' "$dir/json" | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{12}Z$' ||
    fail "json time: $(cat "$dir/json")"
cmp -s "$dir/json" "$dir/anchors" || fail "--output differs from stdout"
"$NEXUSCTL" audit head --state "$db" --output "$dir/anchors" >/dev/null ||
    fail "second --output failed"
[ "$(wc -l <"$dir/anchors")" -eq 2 ] || fail "anchors: $(cat "$dir/anchors")"
[ "$(tail -n1 "$dir/anchors")" = "$head" ] || fail "text line: $(tail -n1 "$dir/anchors")"
[ "$(stat -c %a "$dir/anchors")" = 600 ] || fail "anchors mode $(stat -c %a "$dir/anchors")"
json=$(head -n1 "$dir/anchors")
for h in "$head" "$hash" "$json"; do
	"$NEXUSCTL" audit verify --state "$db" --head "$h" >"$dir/out" ||
	    fail "verify --head '$h': $(cat "$dir/out")"
done

# A truncation hidden in meta: only the anchored head finds it.
cp "$db" "$dir/cut.db"
sqlite3 "$dir/cut.db" "DELETE FROM audit WHERE seq = 2;
    UPDATE meta SET value = (SELECT seq || ':' || lower(hex(hash)) FROM audit
    WHERE seq = 1) WHERE key = 'audit_head'" || fail "sqlite3 tamper failed"
"$NEXUSCTL" audit verify --state "$dir/cut.db" >"$dir/out" ||
    fail "plain verify should not see the hidden truncation: $(cat "$dir/out")"
for h in "$head" "$hash" "$json"; do
	"$NEXUSCTL" audit verify --state "$dir/cut.db" --head "$h" >"$dir/out"
	rc=$?
	[ $rc -eq 1 ] || fail "verify --head '$h' on the cut chain: exit $rc"
	grep -q "BROKEN" "$dir/out" || fail "verify output: $(cat "$dir/out")"
done

# 2. syslog, through a /dev/log this test owns.
if unshare -rm true 2>/dev/null && command -v python3 >/dev/null 2>&1; then
	cat >"$dir/syslog.sh" <<'EOF'
set -e
d=$1
mkdir "$d/dev"
for f in null zero urandom random; do
	: >"$d/dev/$f"
	mount --bind "/dev/$f" "$d/dev/$f"
done
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1] + "/dev/log")
s.settimeout(10)
open(sys.argv[1] + "/listening", "w").close()
sys.stdout.write(s.recv(4096).decode())' "$d" >"$d/syslog" &
n=0
while [ ! -e "$d/listening" ]; do
	n=$((n + 1)); [ $n -gt 100 ] && exit 3
	sleep 0.05
done
mount --bind "$d/dev" /dev
"$NEXUSCTL" audit head --syslog --state "$d/state.db" >/dev/null
wait
EOF
	NEXUSCTL=$NEXUSCTL timeout 20 unshare -rm sh "$dir/syslog.sh" "$dir" \
	    2>"$dir/syslog-err" || fail "syslog run: $(cat "$dir/syslog-err")"
	# <37>: LOG_AUTH (4) * 8 + LOG_NOTICE (5).
	grep -Eq "^<37>.* nexusctl-audit\[[0-9]+\]: audit head $head state=$db\$" \
	    "$dir/syslog" || fail "syslog message: $(cat "$dir/syslog")"
else
	echo "note: no unshare -rm or python3; --syslog not checked"
fi

# 3. The engine anchors the head at start and at stop.
cat >"$dir/nexusctl.conf" <<EOF
{ "store": { "audit_head_file": "$dir/engine-anchors",
             "audit_head_interval": "1s" } }
EOF
"$NEXUSCTL" engine --demo=20 -c "$dir/nexusctl.conf" --state "$db" \
    2>"$dir/engine-err" &
pid=$!
n=0
until [ -s "$dir/engine-anchors" ]; do
	n=$((n + 1))
	[ $n -gt 100 ] && fail "the engine wrote no head: $(cat "$dir/engine-err")"
	kill -0 "$pid" 2>/dev/null || fail "engine died: $(cat "$dir/engine-err")"
	sleep 0.1
done
kill -TERM "$pid"
wait "$pid" || fail "engine exit $?: $(cat "$dir/engine-err")"
pid=
grep -q "warning" "$dir/engine-err" && fail "engine warned: $(cat "$dir/engine-err")"
[ "$(jq -r '.head' "$dir/engine-anchors" | sort -u)" = "$head" ] ||
    fail "engine anchors: $(cat "$dir/engine-anchors")"
"$NEXUSCTL" audit verify --state "$db" --head "$(tail -n1 "$dir/engine-anchors")" \
    >"$dir/out" || fail "verify against the engine's head: $(cat "$dir/out")"

# The keys are checked like every other: file:line:column, exit 78.
printf '{ "store": {\n  "audit_head_file": 5 } }\n' >"$dir/bad.conf"
"$NEXUSCTL" engine --demo=5 -c "$dir/bad.conf" --state "$dir/other.db" \
    >/dev/null 2>"$dir/err"
[ $? -eq 78 ] || fail "a bad store.audit_head_file: exit not 78"
grep -q "bad.conf:2:22: store.audit_head_file: expected a file name" "$dir/err" ||
    fail "bad store.audit_head_file: $(cat "$dir/err")"

# 4. Usage and output errors.
"$NEXUSCTL" audit verify --state "$db" --format json >/dev/null 2>&1
[ $? -eq 64 ] || fail "--format with verify should be a usage error"
"$NEXUSCTL" audit head --state "$db" --head "$head" >/dev/null 2>&1
[ $? -eq 64 ] || fail "--head with head should be a usage error"
"$NEXUSCTL" audit head --state "$db" --format yaml >/dev/null 2>&1
[ $? -eq 64 ] || fail "--format yaml should be a usage error"
"$NEXUSCTL" audit head --state "$db" --output "$dir/no/such/dir/x" \
    >/dev/null 2>"$dir/err"
[ $? -eq 73 ] || fail "unwritable --output: exit not 73"
grep -q "no/such/dir/x" "$dir/err" || fail "unwritable --output: $(cat "$dir/err")"
"$NEXUSCTL" audit verify --state "$db" --head "2:xyz" >/dev/null 2>"$dir/err"
[ $? -eq 64 ] || fail "a malformed --head: $(cat "$dir/err")"
exit 0

#!/bin/sh
# ssh-config.sh - ssh_config as nexusctl reads it, compared with OpenSSH's
# own reading (`ssh -G HOST -F FILE`) over several configs and hosts: the
# fields both print (hostname, port, user, identityfile, identitiesonly,
# userknownhostsfile, stricthostkeychecking, connecttimeout), as
# `nexusctl inventory show HOST --format json` gives them in "ssh".
#
# Needs ssh (OpenSSH client), jq and $NEXUSCTL; no network.  Exit: 0 pass,
# 1 fail, 77 skip.

set -u
: "${NEXUSCTL:?}" "${TOP_SRCDIR:?}"
command -v ssh >/dev/null 2>&1 || { echo "SKIP: no ssh"; exit 77; }
command -v jq >/dev/null 2>&1 || { echo "SKIP: no jq"; exit 77; }

T=$(mktemp -d "${TMPDIR:-/tmp}/nx-sshcfg.XXXXXX") || exit 1
HOMEDIR=$(getent passwd "$(id -u)" | cut -d: -f6)
REL=
cleanup() {
	rm -rf "$T"
	[ -n "$REL" ] && rm -f "$HOMEDIR/.ssh/$REL"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
unset SSH_AUTH_SOCK NEXUSCTL_SSH_IDENTITY NEXUSCTL_SSH_KNOWN_HOSTS \
    NEXUSCTL_SSH_ACCEPT_NEW

fails=0
echo "{}" >"$T/nx.json"
checked=0

# A relative Include is looked up in ~/.ssh: only when that is writable.
if [ -d "$HOMEDIR/.ssh" ] && [ -w "$HOMEDIR/.ssh" ]; then
	REL="nx-test-$$.conf"
	printf 'Host rel*\n  Port 2400\n  User reluser\n' >"$HOMEDIR/.ssh/$REL"
fi

cat >"$T/a.conf" <<'EOF'
# first value wins; IdentityFile accumulates; patterns * ? !
Host web* !web9
  HostName %h.example.net
  Port 2200
  IdentityFile ~/.ssh/web_%r_%p
Host web1
  Port 2201
  User alice
  IdentitiesOnly yes
  ConnectTimeout 7
  IdentityFile "/keys/second key"
Host db?
  HostName 10.0.0.5
  User dbadmin
  StrictHostKeyChecking accept-new
  UserKnownHostsFile ~/kh_db /tmp/kh_db2
Host W?B2
  StrictHostKeyChecking no
  ConnectTimeout 3
Match host web1
  User matched
Host *
  User everyone
  Port=22
  StrictHostKeyChecking yes
  IdentitiesOnly no
  UserKnownHostsFile ~/.ssh/known_hosts
  IdentityFile ~/.ssh/id_ed25519
  IdentityFile %d/keys/%h
EOF

mkdir -p "$T/inc"
cat >"$T/inc/10-lab.conf" <<'EOF'
Port 2300
Host lab*
  User labuser
  ConnectTimeout 4
EOF
cat >"$T/inc/20-more.conf" <<'EOF'
User fromtwenty
IdentitiesOnly yes
EOF
{
	echo "Host lab* web*"
	echo "  Include $T/inc/*.conf"
	echo "  HostName %h.lab"
	[ -n "$REL" ] && echo "Include $REL"
	cat <<'EOF'
Host *
  StrictHostKeyChecking ask
  UserKnownHostsFile /tmp/kh_all
  IdentityFile ~/.ssh/id_lab
  ConnectTimeout 0
EOF
} >"$T/b.conf"

HOSTS="web1 web2 web9 db1 dbx other lab1 labx webz rel1"
{
	printf '{ "nodes": ['
	sep=
	for h in $HOSTS; do
		printf '%s{ "name": "%s" }' "$sep" "$h"
		sep=', '
	done
	printf '] }\n'
} >"$T/inv.json"

# ours HOST CONFIG: the fields in `ssh -G` form, one per line.
ours() {
	NEXUSCTL_SSH_CONFIG=$2 "$NEXUSCTL" inventory show "$1" -i "$T/inv.json" \
	    --format json -c "$T/nx.json" 2>"$T/err" | jq -r '.ssh |
	    "hostname \(.address)", "port \(.port)", "user \(.user)",
	    (.identities[] | "identityfile \(.)"),
	    "identitiesonly \(if .identities_only then "yes" else "no" end)",
	    "userknownhostsfile \(.known_hosts | join(" "))",
	    "stricthostkeychecking \({"yes": "true", "no": "false"}[.strict_host_key_checking] // .strict_host_key_checking)",
	    "connecttimeout \(if .connect_timeout_ms == 10000 then "none" else .connect_timeout_ms / 1000 | floor end)"'
}
# theirs HOST CONFIG: the same fields from ssh -G, IdentityFile expanded.
theirs() {
	ssh -G "$1" -F "$2" 2>/dev/null </dev/null | awk -v home="$HOMEDIR" '
	    $1 == "hostname" { h = $2 } $1 == "user" { u = $2 } $1 == "port" { p = $2 }
	    $1 ~ /^(hostname|port|user|identitiesonly|userknownhostsfile|stricthostkeychecking|connecttimeout)$/ { f[$1] = $0 }
	    $1 == "identityfile" { $1 = ""; sub(/^ /, ""); ids[++n] = $0 }
	    END {
		print f["hostname"]; print f["port"]; print f["user"]
		for (i = 1; i <= n; i++) {
			s = ids[i]; out = ""
			if (substr(s, 1, 2) == "~/") s = home substr(s, 2)
			while ((k = index(s, "%")) > 0) {
				c = substr(s, k + 1, 1)
				r = c == "h" ? h : c == "r" ? u : c == "p" ? p : c == "d" ? home : c == "%" ? "%" : "%" c
				out = out substr(s, 1, k - 1) r; s = substr(s, k + 2)
			}
			print "identityfile " out s
		}
		print f["identitiesonly"]; print f["userknownhostsfile"]
		print f["stricthostkeychecking"]
		# 0 and none: no limit of its own (nexusctl: the pool default)
		print f["connecttimeout"] == "connecttimeout 0" ? "connecttimeout none" : f["connecttimeout"]
	    }'
}

for cfg in a b; do
	for h in $HOSTS; do
		[ "$h" = rel1 ] && [ -z "$REL" ] && continue
		ours "$h" "$T/$cfg.conf" >"$T/ours"
		theirs "$h" "$T/$cfg.conf" >"$T/theirs"
		checked=$((checked + 1))
		if [ ! -s "$T/theirs" ] || ! cmp -s "$T/ours" "$T/theirs"; then
			fails=$((fails + 1))
			echo "FAIL: $cfg.conf $h differs from ssh -G:"
			diff "$T/theirs" "$T/ours" | sed 's/^/    /'
			cat "$T/err"
		fi
	done
done
if [ $fails -eq 0 ]; then
	echo "ok: $checked host/config pairs read as ssh -G reads them${REL:+ (relative Include in ~/.ssh too)}"
fi

# The given values win: an inventory port and user over ssh_config's.
printf '{ "nodes": [ { "name": "web1", "port": 2999, "user": "given" } ] }\n' >"$T/inv2.json"
got=$(NEXUSCTL_SSH_CONFIG="$T/a.conf" "$NEXUSCTL" inventory show web1 -i "$T/inv2.json" \
    --format json -c "$T/nx.json" | jq -r '.ssh | "\(.address) \(.port) \(.user) \(.identities[0])"')
if [ "$got" = "web1.example.net 2999 given $HOMEDIR/.ssh/web_given_2999" ]; then
	echo "ok: inventory port and user win over ssh_config ($got)"
else
	fails=$((fails + 1))
	echo "FAIL: given values: $got"
fi

[ $fails -eq 0 ]

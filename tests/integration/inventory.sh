#!/bin/sh
# inventory.sh - the real nexusctl on the inventory fixtures: list/show,
# targets, errors with file:line, merging with a warning, the provider in
# `check`, and (when ansible-inventory is installed) the same listing as
# Ansible's on three INI and two YAML fixtures and a script.
#
# Needs $NEXUSCTL and $TOP_SRCDIR (set by `make check`) and jq.
# Exit: 0 pass, 1 fail, 77 skip.

set -u
: "${NEXUSCTL:?}" "${TOP_SRCDIR:?}"
FX="$TOP_SRCDIR/tests/fixtures/inventory"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/nx-inventory.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT INT TERM
export XDG_CONFIG_HOME="$TMP/config" XDG_STATE_HOME="$TMP/state"

command -v jq >/dev/null 2>&1 || { echo "SKIP: jq is not installed"; exit 77; }

fails=0
passes=0
pass() { passes=$((passes + 1)); echo "ok: $1"; }
fail() { fails=$((fails + 1)); echo "FAIL: $1"; }

# nx ARGS... : runs nexusctl bounded in time; stdout in $TMP/out, stderr in
# $TMP/err, exit status in $rc.
nx() {
	timeout 30 "$NEXUSCTL" "$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
}

# --- list: the structure of ansible-inventory --list
nx inventory list --format json -i "$FX/children.ini"
if [ $rc -eq 0 ] &&
   [ "$(jq -c '.southeast.children' "$TMP/out")" = '["atlanta","raleigh"]' ] &&
   [ "$(jq -c '.usa.children' "$TMP/out")" = '["southeast","northeast","southwest","northwest"]' ] &&
   [ "$(jq -c '.all.children' "$TMP/out")" = '["ungrouped","usa"]' ] &&
   [ "$(jq -r '.northeast' "$TMP/out")" = null ] &&
   [ "$(jq -c '._meta.hostvars.host1.escape_pods' "$TMP/out")" = 1 ] &&
   [ "$(jq -c '._meta.hostvars.host2.escape_pods' "$TMP/out")" = 7 ] &&
   [ "$(jq -c '._meta.hostvars.host3.escape_pods' "$TMP/out")" = 2 ]; then
	pass "list json: children, all, empty groups left out, var precedence"
else
	fail "list json on children.ini (rc $rc)"; cat "$TMP/out" "$TMP/err"
fi

nx inventory list -i "$FX/hosts.ini"
if [ $rc -eq 0 ] && grep -q '^@all:$' "$TMP/out" &&
   grep -q '^  |--@ungrouped:$' "$TMP/out" &&
   grep -q '^  |  |--jumper$' "$TMP/out" &&
   grep -q '^  |  |--www05.example.com$' "$TMP/out"; then
	pass "list text: a graph like ansible-inventory --graph"
else
	fail "list text (rc $rc)"; cat "$TMP/out" "$TMP/err"
fi

# --- show: one host, with its address, port and user
nx inventory show jumper --format json -i "$FX/hosts.ini"
if [ $rc -eq 0 ] && [ "$(jq -r '.address' "$TMP/out")" = 192.0.2.50 ] &&
   [ "$(jq -r '.port' "$TMP/out")" = 5555 ] &&
   [ "$(jq -c '.groups' "$TMP/out")" = '["ungrouped","all"]' ]; then
	pass "show json: ansible_host and ansible_port become address and port"
else
	fail "show json jumper (rc $rc)"; cat "$TMP/out" "$TMP/err"
fi

nx inventory show api01 -i "$FX/nodes.json"
if [ $rc -eq 0 ] && grep -q '^address  10.1.0.1$' "$TMP/out" &&
   grep -q '^port     2201$' "$TMP/out" && grep -q '^user     ops$' "$TMP/out" &&
   grep -q '^  rack = "r1"$' "$TMP/out" &&
   grep -q '^groups   api, fra1, europe, all$' "$TMP/out"; then
	pass "show text on the JSON inventory"
else
	fail "show text api01 (rc $rc)"; cat "$TMP/out" "$TMP/err"
fi

nx inventory show nosuchhost -i "$FX/hosts.ini"
if [ $rc -eq 1 ] && grep -q "no host 'nosuchhost'" "$TMP/err"; then
	pass "show: an unknown host is an error"
else
	fail "show unknown host (rc $rc)"; cat "$TMP/err"
fi

# --- targets on the list
nx inventory list --format json -t '@edge&/^edge/,!edge5-b' -i "$FX/ranges.ini"
if [ $rc -eq 0 ] &&
   [ "$(jq -c '.edge.hosts' "$TMP/out")" = '["edge1-a","edge1-b","edge5-a","edge9-a","edge9-b"]' ] &&
   [ "$(jq -r '.web' "$TMP/out")" = null ]; then
	pass "list -t: group, regex, intersection and exclusion"
else
	fail "list -t (rc $rc)"; cat "$TMP/out" "$TMP/err"
fi

nx inventory list --format json -t 'www[02-03].example.com,role=router' -i "$FX/ranges.ini"
if [ $rc -eq 0 ] &&
   [ "$(jq -c '[.web.hosts, .edge.hosts]' "$TMP/out")" = '[["www02.example.com","www03.example.com"],["2001:db8::1"]]' ]; then
	pass "list -t: pdsh range and key=value"
else
	fail "list -t range/var (rc $rc)"; cat "$TMP/out" "$TMP/err"
fi

nx inventory list -t '@web,[1-' -i "$FX/ranges.ini"
if [ $rc -eq 64 ] && grep -q "column 6: unterminated '\['" "$TMP/err"; then
	pass "a bad target names the column"
else
	fail "bad target (rc $rc)"; cat "$TMP/err"
fi

# --- errors name the file and line (and column for JSON)
nx inventory list -i "$FX/bad-host.ini"
if [ $rc -eq 78 ] && grep -q "bad-host.ini:3: invalid host name '-web02.example.com'" "$TMP/err"; then
	pass "a bad INI host is an error with file:line"
else
	fail "bad-host.ini (rc $rc)"; cat "$TMP/err"
fi

nx inventory list -i "$FX/bad-port.json"
if [ $rc -eq 78 ] && grep -q 'bad-port.json:5:7: \$.nodes\[1\].port: "port" must be an integer from 1 to 65535' "$TMP/err"; then
	pass "a bad JSON port is an error with file:line:column and the path"
else
	fail "bad-port.json (rc $rc)"; cat "$TMP/err"
fi

printf '{"nodes": [ {"name": "a"},\n  {"name": }]}\n' > "$TMP/syntax.json"
nx inventory list -i "$TMP/syntax.json"
if [ $rc -eq 78 ] && grep -q 'syntax.json:2:12:' "$TMP/err"; then
	pass "a JSON syntax error has file:line:column"
else
	fail "syntax.json (rc $rc)"; cat "$TMP/err"
fi

nx inventory list -i "$TMP/does-not-exist.ini"
if [ $rc -eq 78 ] && grep -q 'does-not-exist.ini: No such file' "$TMP/err"; then
	pass "a missing file is an error"
else
	fail "missing file (rc $rc)"; cat "$TMP/err"
fi

nx inventory list -i "$FX/bad-range.yml"
if [ $rc -eq 78 ] && grep -q "bad-range.yml:6:9: host 'www\[03:x\].example.com': column 5: range bound 'x' is not a number or a single letter" "$TMP/err"; then
	pass "a bad YAML range is an error with file:line:column"
else
	fail "bad-range.yml (rc $rc)"; cat "$TMP/err"
fi

# --- content sniffing and merging two files
nx inventory list --format json -i "$FX/inventory-noext"
if [ $rc -eq 0 ] && [ "$(jq -c '.lab.hosts' "$TMP/out")" = '["lab1","lab2","lab3"]' ]; then
	pass "a file without extension is read as INI by its content"
else
	fail "inventory-noext (rc $rc)"; cat "$TMP/out" "$TMP/err"
fi

nx inventory show jumper --format json -i "$FX/hosts.ini" -i "$FX/more.ini"
if [ $rc -eq 0 ] && [ "$(jq -r '.port' "$TMP/out")" = 6666 ] &&
   [ "$(jq -r '.vars.role' "$TMP/out")" = bastion ] &&
   grep -q "warning: .*more.ini:3: host 'jumper' is also defined in .*hosts.ini:4" "$TMP/err"; then
	pass "a host in two files is merged, later vars win, with a warning"
else
	fail "merge (rc $rc)"; cat "$TMP/out" "$TMP/err"
fi

# --- the provider: -i turns the demo off; nodes say they have no transport
nx check --format json -i "$FX/hosts.ini"
if [ $rc -eq 3 ] && [ "$(jq -r '.summary.nodes' "$TMP/out")" = 10 ] &&
   [ "$(jq -r '[.nodes[].provider] | unique | join(",")' "$TMP/out")" = inventory ] &&
   [ "$(jq -r '.nodes[0].checks[0].output' "$TMP/out")" = "UNKNOWN - no transport yet: inventory nodes are not contacted until the ssh provider lands" ] &&
   [ "$(jq -r '.nodes[0].host_state' "$TMP/out")" = UP ]; then
	pass "check -i: only inventory nodes, UNKNOWN with 'no transport yet'"
else
	fail "check -i (rc $rc)"; head -c 2000 "$TMP/out"; cat "$TMP/err"
fi

nx check --format json --demo=5 -i "$FX/hosts.ini"
if [ "$(jq -r '.summary.nodes' "$TMP/out")" -ge 15 ]; then
	pass "check -i --demo=5: demo and inventory together"
else
	fail "check -i --demo (rc $rc)"; cat "$TMP/err"
fi

nx check -i "$FX/bad-host.ini"
if [ $rc -eq 78 ] && grep -q 'bad-host.ini:3:' "$TMP/err"; then
	pass "check -i with a bad inventory is a configuration error"
else
	fail "check -i bad (rc $rc)"; cat "$TMP/err"
fi

# --- a dynamic inventory script (chosen by its executable bit)
mkdir -p "$TMP/fx"
cat >"$TMP/fx/cloud.sh" <<'EOF'
#!/bin/sh
case "$1" in
--list) cat <<'J'
{"web": {"hosts": ["w1", "w2"], "vars": {"http_port": 80}, "children": ["canary"]},
 "canary": ["w3"], "db": ["d1"], "lonely": {"ansible_host": "10.9.9.9"}}
J
;;
--host) echo "{\"who\": \"$2\"}";;
esac
EOF
chmod +x "$TMP/fx/cloud.sh"
printf '#!/bin/sh\necho "cloud API: 403 Forbidden" >&2\nexit 2\n' >"$TMP/fx/broken.sh"
chmod +x "$TMP/fx/broken.sh"
nx inventory list -i "$TMP/fx/broken.sh"
if [ $rc -eq 78 ] && grep -q 'broken.sh --list: exit status 2 (stderr: cloud API: 403 Forbidden)' "$TMP/err"; then
	pass "a failing inventory script is an error quoting its stderr"
else
	fail "broken.sh (rc $rc)"; cat "$TMP/err"
fi

# --- ssh_config: each concrete Host as `ssh -G` resolves it
mkdir -p "$TMP/home"
cp -r "$FX/ssh" "$TMP/home/.ssh" && chmod -R u+w "$TMP/home/.ssh"
HOME="$TMP/home" nx inventory list --format json -i 'ssh_config:~/.ssh/config'
if [ $rc -eq 0 ] && [ "$(jq -r '._meta.hostvars | keys | join(",")' "$TMP/out")" = bastion,db1,db2,gitlab,legacy ]; then
	pass "ssh_config: concrete Host names become hosts, patterns do not"
else
	fail "ssh_config list (rc $rc)"; cat "$TMP/out" "$TMP/err"
fi
if command -v ssh >/dev/null 2>&1; then
	for h in bastion db1 db2 gitlab legacy; do
		want=$(HOME="$TMP/home" timeout 10 ssh -G -F "$TMP/home/.ssh/config" "$h" 2>/dev/null |
		    awk '{ v[$1] = $2 } END { printf "%s %s %s ", v["hostname"], v["port"], v["user"] }')
		got=$(jq -r --arg h "$h" '._meta.hostvars[$h] | "\(.ansible_host) \(.ansible_port) \(.ansible_user) "' "$TMP/out")
		if [ "$want" = "$got" ]; then
			pass "ssh_config: $h as ssh -G has it ($got)"
		else
			fail "ssh_config: $h: ssh -G says '$want', we say '$got'"
		fi
	done
else
	echo "SKIP: no ssh client; the ssh -G comparison is skipped"
fi

# --- Terraform state: compute instances become hosts
nx inventory show db-primary --format json -i "$FX/terraform.tfstate"
if [ $rc -eq 0 ] && [ "$(jq -r '.address' "$TMP/out")" = 198.51.100.20 ] &&
   [ "$(jq -r '.vars.tf_address' "$TMP/out")" = 'google_compute_instance.db["primary"]' ] &&
   [ "$(jq -c '.groups' "$TMP/out")" = '["google_compute_instance","tag_env_prod","tag_tier_db","all"]' ]; then
	pass "terraform: a google instance with its nat_ip, address and label groups"
else
	fail "terraform show (rc $rc)"; cat "$TMP/out" "$TMP/err"
fi
nx inventory list -i "$FX/state-v3.json"
if [ $rc -eq 78 ] && grep -q 'state-v3.json:2:5: \$.version: Terraform state format version other than 4' "$TMP/err"; then
	pass "terraform: a version 3 state is refused with file:line:column"
else
	fail "state-v3.json (rc $rc)"; cat "$TMP/err"
fi

# --- host:port only where a host is first defined (Ansible's add_host)
nx inventory list --format json -i "$FX/ports.ini"
if [ $rc -eq 0 ] &&
   [ "$(jq -cS '._meta.hostvars' "$TMP/out")" = \
     '{"h1":{"ansible_port":1001},"h2":{"ansible_port":2001},"h4":{"ansible_port":4444}}' ]; then
	pass "host:port: the first definition's, a later one ignored, a var wins"
else
	fail "ports.ini (rc $rc)"; cat "$TMP/out" "$TMP/err"
fi
nx inventory list --format json -i "$FX/hosts.yml" -i "$FX/hosts.ini"
if [ $rc -eq 0 ] &&
   [ "$(jq -c '._meta.hostvars["bar.example.com"].ansible_port' "$TMP/out")" = 8080 ]; then
	pass "host:port across files: the first file's (hosts.yml 8080, not hosts.ini 2222)"
else
	fail "host:port across files (rc $rc)"; cat "$TMP/out" "$TMP/err"
fi

# --- the same listing as ansible-inventory, normalised with jq; an entry
# with several files (space-separated) is `-i a -i b` to both
norm='walk(if type == "array" then sort else . end)'
if command -v ansible-inventory >/dev/null 2>&1; then
	for set in hosts.ini children.ini ranges.ini hosts.yml anchors.yaml typing.yml \
	    more.ini inventory-noext ports.ini "hosts.ini more.ini" \
	    "children.ini more.ini" "hosts.yml hosts.ini" "ranges.ini anchors.yaml" \
	    "more.ini ports.ini hosts.yml" "$TMP/fx/cloud.sh"; do
		args=
		for f in $set; do
			case $f in /*) ;; *) f="$FX/$f";; esac
			args="$args -i $f"
		done
		# shellcheck disable=SC2086 # fixture paths have no spaces
		timeout 60 ansible-inventory $args --list 2>"$TMP/aerr" |
		    jq -S "$norm" >"$TMP/ansible.json"
		# shellcheck disable=SC2086
		nx inventory list --format json $args
		jq -S "$norm" "$TMP/out" >"$TMP/nexus.json"
		if [ -s "$TMP/ansible.json" ] && [ $rc -eq 0 ] &&
		   cmp -s "$TMP/ansible.json" "$TMP/nexus.json"; then
			pass "same as ansible-inventory --list: $set"
		else
			fail "differs from ansible-inventory --list: $set"
			diff "$TMP/ansible.json" "$TMP/nexus.json" | head -40
			cat "$TMP/aerr"
		fi
	done
else
	echo "SKIP: ansible-inventory is not installed (apt-get install ansible-core); comparison skipped"
fi

echo "$passes passed, $fails failed"
[ $fails -eq 0 ] || exit 1
exit 0

# sshlab.sh - a loopback SSH fleet for tests and benchmarks (sourced, not run).
#
# One real OpenSSH sshd inside a private network namespace (`unshare -n`)
# listens on 0.0.0.0:$LAB_PORT of that namespace, so every 127.x.y.z
# address is a distinct "host" (the remote side sees which one in
# $SSH_CONNECTION), and nothing outside the namespace can reach it.
#
#   lab_require          exit 77 unless root with sshd, unshare, ip, ssh-keygen
#   lab_enter "$0" "$@"  re-execute the calling script inside `unshare -n`
#                        (returns in the namespace, with lo up)
#   lab_setup            user $LAB_USER (/bin/sh, key login only), a temp
#                        dir $LAB with a host key, a client key
#                        ($LAB/id_ed25519), authorized_keys, sshd_config
#   lab_start / lab_stop / lab_restart
#                        the server, by the pid we started; bounded waits
#   lab_new_host_key     a new host key (restart to use it)
#   lab_known_hosts FILE N   FILE gets the key for 127.0.0.1..127.0.0.N
#   lab_cleanup          stop the server, remove $LAB
#   lab_descendants PID  the pids of every process under PID
#
# Only processes this library started are ever killed, by pid.

LAB_PORT=${LAB_PORT:-2222}
LAB_USER=${LAB_USER:-nxlab}
LAB=
LAB_SSHD_PID=

lab_skip() {
	echo "SKIP: $*"
	exit 77
}

lab_require() {
	[ "$(id -u)" -eq 0 ] || lab_skip "the SSH lab needs root (user, namespace)"
	[ -x /usr/sbin/sshd ] || lab_skip "no /usr/sbin/sshd (apt-get install openssh-server)"
	for t in unshare ip ssh-keygen useradd usermod timeout; do
		command -v "$t" >/dev/null 2>&1 || lab_skip "no $t"
	done
}

# Re-executes the script in a new network namespace unless already there.
lab_enter() {
	script=$1
	shift
	if [ -z "${NXLAB_IN_NS:-}" ]; then
		NXLAB_IN_NS=1
		export NXLAB_IN_NS
		unshare -n true 2>/dev/null ||
			lab_skip "unshare -n is not permitted here"
		exec unshare -n -- /bin/sh "$script" "$@"
	fi
	ip link set lo up || { echo "FAIL: ip link set lo up"; exit 1; }
}

lab_setup() {
	if ! id "$LAB_USER" >/dev/null 2>&1; then
		useradd -M -d "/var/lib/$LAB_USER" -s /bin/sh "$LAB_USER" ||
			{ echo "FAIL: useradd $LAB_USER"; exit 1; }
	fi
	# Locked accounts are refused by sshd without PAM: '*' is key-only.
	# /bin/sh: root-style rc files would cost seconds per login.
	usermod -p '*' -s /bin/sh -d "/var/lib/$LAB_USER" "$LAB_USER" ||
		{ echo "FAIL: usermod $LAB_USER"; exit 1; }
	mkdir -p "/var/lib/$LAB_USER"
	chown "$LAB_USER" "/var/lib/$LAB_USER"
	mkdir -p /run/sshd
	LAB=$(mktemp -d "${TMPDIR:-/tmp}/nx-sshlab.XXXXXX") || exit 1
	chmod 0755 "$LAB"
	ssh-keygen -q -t ed25519 -N '' -C nxlab-host -f "$LAB/host_ed25519" ||
		exit 1
	ssh-keygen -q -t ed25519 -N '' -C nxlab-client -f "$LAB/id_ed25519" ||
		exit 1
	cp "$LAB/id_ed25519.pub" "$LAB/authorized_keys"
	chmod 0644 "$LAB/authorized_keys"
	cat >"$LAB/sshd_config" <<EOF
Port $LAB_PORT
ListenAddress 0.0.0.0
HostKey $LAB/host_ed25519
PidFile $LAB/sshd.pid
AuthorizedKeysFile $LAB/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin no
AllowUsers $LAB_USER
MaxStartups 300:30:600
MaxSessions 64
UseDNS no
PrintMotd no
PrintLastLog no
LogLevel INFO
EOF
	/usr/sbin/sshd -t -f "$LAB/sshd_config" ||
		{ echo "FAIL: sshd -t rejects the lab config"; exit 1; }
}

# Whether something accepts TCP connections on 127.0.0.1:$LAB_PORT.
lab_port_open() {
	timeout 1 bash -c ": </dev/tcp/127.0.0.1/$LAB_PORT" 2>/dev/null
}

lab_start() {
	/usr/sbin/sshd -D -f "$LAB/sshd_config" -E "$LAB/sshd.log" &
	LAB_SSHD_PID=$!
	i=0
	while ! lab_port_open; do
		i=$((i + 1))
		if [ $i -ge 50 ] || ! kill -0 "$LAB_SSHD_PID" 2>/dev/null; then
			echo "FAIL: sshd did not start:"
			cat "$LAB/sshd.log"
			exit 1
		fi
		sleep 0.1
	done
}

lab_stop() {
	[ -n "$LAB_SSHD_PID" ] || return 0
	kill "$LAB_SSHD_PID" 2>/dev/null
	i=0
	while kill -0 "$LAB_SSHD_PID" 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	wait "$LAB_SSHD_PID" 2>/dev/null
	LAB_SSHD_PID=
	i=0
	while lab_port_open && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}

lab_restart() {
	lab_stop
	lab_start
}

lab_new_host_key() {
	rm -f "$LAB/host_ed25519" "$LAB/host_ed25519.pub"
	ssh-keygen -q -t ed25519 -N '' -C nxlab-host2 -f "$LAB/host_ed25519"
}

# FILE gets "[127.0.0.i]:PORT ssh-ed25519 KEY" for i in 1..N.
lab_known_hosts() {
	key=$(cut -d' ' -f1,2 "$LAB/host_ed25519.pub")
	: >"$1"
	i=1
	while [ "$i" -le "$2" ]; do
		echo "[127.0.0.$i]:$LAB_PORT $key" >>"$1"
		i=$((i + 1))
	done
}

# lab_fleet N KNOWN_HOSTS MEMBERS: prints a JSON inventory of N nodes
# n0..n(N-1) at 127.0.0-3.1-250 (the lab's port and user, plus MEMBERS,
# e.g. '"groups": ["lab"]'), and writes their keys to KNOWN_HOSTS.
lab_fleet() {
	key=$(cut -d' ' -f1,2 "$LAB/host_ed25519.pub")
	: >"$2"
	echo '{ "nodes": ['
	i=0
	while [ "$i" -lt "$1" ]; do
		a="127.0.$((i / 250)).$((i % 250 + 1))"
		echo "[$a]:$LAB_PORT $key" >>"$2"
		[ "$i" -gt 0 ] && echo ,
		echo "{ \"name\": \"n$i\", \"address\": \"$a\", \"port\": $LAB_PORT," \
		    "\"user\": \"$LAB_USER\", $3 }"
		i=$((i + 1))
	done
	echo '] }'
}

lab_cleanup() {
	lab_stop
	[ -n "$LAB" ] && rm -rf "$LAB"
}

# lab_descendants PID: the pids of every process under PID (not PID).
lab_descendants() {
	ps -e -o pid=,ppid= | awk -v root="$1" '
	    { parent[$1] = $2 }
	    END { for (p in parent) { q = parent[p]; n = 0
		while (q != "" && q != 0 && q != 1 && n < 64) {
		    if (q == root) { print p; break }
		    q = parent[q]; n++ } } }'
}

# Helpers for tests/e2e/net.bats. Every connection goes to 127.0.0.1 on this
# host (published ports) or stays inside namespaces kiln made.

# free_port: a TCP and UDP port on 127.0.0.1 that nothing uses right now.
free_port() {
    python3 - <<'EOF'
import socket
while True:
    t = socket.socket(); t.bind(("127.0.0.1", 0)); p = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", p)); break
    except OSError:
        pass
    finally:
        t.close(); u.close()
print(p)
EOF
}

# port_is_free PORT [tcp|udp]: 0 if 127.0.0.1:PORT can be bound now.
port_is_free() {
    python3 -c '
import socket, sys
kind = socket.SOCK_DGRAM if sys.argv[2] == "udp" else socket.SOCK_STREAM
s = socket.socket(socket.AF_INET, kind)
if kind == socket.SOCK_STREAM:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
' "$1" "${2:-tcp}" 2>/dev/null
}

# wait_http URL [TRIES]: until URL answers 200 (10 tries a second).
wait_http() {
    local i
    for i in $(seq 1 "${2:-100}"); do
        curl -fsS -m 2 "$1" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    curl -fsS -m 2 "$1"
}

# alive PID: the process exists and is not a zombie.
alive() {
    [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

# fds_threads PID: "FDS THREADS" of a process.
fds_threads() {
    echo "$(ls "/proc/$1/fd" | wc -l) $(awk '/^Threads:/{print $2}' "/proc/$1/status")"
}

# httpd_cmd PORT TEXT: a busybox web server on PORT inside the container.
httpd_cmd() {
    echo "mkdir -p /www && echo $2 >/www/index.html && exec httpd -f -p $1 -h /www"
}

# rootless_user: makes $user (a local of the caller) a user with a subuid
# range, able to run kiln's private networks; sets $home.
rootless_user() {
    id "$user" >/dev/null 2>&1 || useradd -m "$user"
    grep -q "^$user:" /etc/subuid || echo "$user:300000:65536" >>/etc/subuid
    grep -q "^$user:" /etc/subgid || echo "$user:300000:65536" >>/etc/subgid
    # slirp4netns opens /dev/net/tun in the user's namespace: Debian's default mode.
    chmod 0666 /dev/net/tun
    home=$(getent passwd "$user" | cut -d: -f6)
}

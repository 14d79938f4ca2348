# net_load.py PORT N CONCURRENT: N HTTP requests to 127.0.0.1:PORT, CONCURRENT
# at once; prints how many were answered with "pong" (bounded: local only).
import socket
import sys
from concurrent.futures import ThreadPoolExecutor

port, n, conc = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])


def one(_):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            data += b
        s.close()
        return 1 if b"pong" in data else 0
    except OSError:
        return 0


with ThreadPoolExecutor(max_workers=conc) as ex:
    print(sum(ex.map(one, range(n))))

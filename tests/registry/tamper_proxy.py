#!/usr/bin/env python3
"""A lying HTTP proxy in front of a test registry (kiln's registry tests).

usage: tamper_proxy.py PORTFILE UPSTREAM_PORT MODE [LOGFILE]
MODE:
  pass            forward unchanged
  flip-blob       flip one byte in the middle of every layer/config blob served
  lie-manifest    change one byte of every manifest body, keep its headers
  manifest-type   serve manifests with the other format's Content-Type
  drop-once       cut the first blob response of each digest off halfway
                  (the client should resume with Range or retry)
  redirect-blobs  answer blob GETs with a redirect to 127.0.0.2 (same port),
                  where the proxy also listens and logs any Authorization header
                  (TAMPER_UPSTREAM_AUTH=user:pass: the proxy itself logs in there,
                  with Basic auth or a token from the registry's token server)
Writes its port to PORTFILE; with LOGFILE, logs one line per request:
"METHOD PATH host=H auth=yes|no range=R crange=CONTENT-RANGE".
"""
import base64, http.client, json, os, re, sys, threading, urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

portfile, upstream_port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
logfile = sys.argv[4] if len(sys.argv) > 4 else None
dropped = set()
lock = threading.Lock()
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
       "proxy-authorization", "proxy-authenticate", "content-length"}


def log(line):
    if logfile:
        with lock, open(logfile, "a") as f:
            f.write(line + "\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def relay(self, method):
        host = self.headers.get("Host", "")
        log("%s %s host=%s auth=%s range=%s crange=%s" % (
            method, self.path, host, "yes" if self.headers.get("Authorization") else "no",
            self.headers.get("Range", "none"), self.headers.get("Content-Range", "none")))
        is_blob = "/blobs/sha256:" in self.path and method == "GET"
        if mode == "redirect-blobs" and is_blob and not host.startswith("127.0.0.2"):
            self.send_response(307)
            self.send_header("Location", "http://127.0.0.2:%d%s" % (self.server.server_address[1], self.path))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        n = int(self.headers.get("Content-Length", 0) or 0)
        body = self.rfile.read(n) if n else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP and k.lower() != "host"}
        # The registry builds upload Locations from Host: they point back here.
        headers["Host"] = host
        if host.startswith("127.0.0.2") and os.environ.get("TAMPER_UPSTREAM_AUTH"):
            # The redirect target stands for a pre-signed storage URL: it
            # needs no credentials from the client.
            headers["Authorization"] = "Basic " + base64.b64encode(
                os.environ["TAMPER_UPSTREAM_AUTH"].encode()).decode()
        conn = http.client.HTTPConnection("127.0.0.1", upstream_port)
        conn.request(method, self.path, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        challenge = r.getheader("WWW-Authenticate", "")
        if r.status == 401 and "Authorization" in headers and challenge.startswith("Bearer "):
            # A token registry: the proxy gets its own token with its login.
            params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
            url = "%s?service=%s&scope=%s" % (params["realm"], params.get("service", ""),
                                              params.get("scope", ""))
            req = urllib.request.Request(url, headers={"Authorization": headers["Authorization"]})
            token = json.load(urllib.request.urlopen(req))["token"]
            headers["Authorization"] = "Bearer " + token
            conn = http.client.HTTPConnection("127.0.0.1", upstream_port)
            conn.request(method, self.path, body=body, headers=headers)
            r = conn.getresponse()
            data = r.read()
        out_headers = [(k, v) for k, v in r.getheaders() if k.lower() not in HOP]
        is_manifest = "/manifests/" in self.path and method == "GET" and r.status == 200
        if mode == "flip-blob" and is_blob and r.status == 200 and len(data) > 0:
            i = len(data) // 2
            data = data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:]
        if mode == "lie-manifest" and is_manifest:
            data = data.replace(b'"size":', b'"size": ', 1)
        if mode == "manifest-type" and is_manifest:
            swap = {"application/vnd.oci.image.manifest.v1+json": "application/vnd.docker.distribution.manifest.v2+json",
                    "application/vnd.docker.distribution.manifest.v2+json": "application/vnd.oci.image.manifest.v1+json"}
            out_headers = [(k, swap.get(v, v) if k.lower() == "content-type" else v) for k, v in out_headers]
        self.send_response(r.status)
        for k, v in out_headers:
            self.send_header(k, v)
        if mode == "drop-once" and is_blob and r.status == 200 and len(data) > 1024:
            with lock:
                first = self.path not in dropped
                dropped.add(self.path)
            if first:
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
        length = r.getheader("Content-Length", "0") if method == "HEAD" else str(len(data))
        self.send_header("Content-Length", length)
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(data)

    def do_GET(self):
        self.relay("GET")

    def do_HEAD(self):
        self.relay("HEAD")

    def do_PUT(self):
        self.relay("PUT")

    def do_POST(self):
        self.relay("POST")

    def do_PATCH(self):
        self.relay("PATCH")


class Server(ThreadingHTTPServer):
    daemon_threads = True


srv = Server(("127.0.0.1", 0), Handler)
port = srv.server_address[1]
servers = [srv]
if mode == "redirect-blobs":
    servers.append(Server(("127.0.0.2", port), Handler))
    threading.Thread(target=servers[1].serve_forever, daemon=True).start()
with open(portfile + ".tmp", "w") as f:
    f.write(str(port))
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()

#!/usr/bin/env python3
"""A token server for kiln's registry tests: Docker's token protocol with
basic-auth users from a file, issuing RS256 JWTs (signed with openssl) that
docker-registry verifies against the matching certificate.

usage: token_server.py PORTFILE KEY CERT USERS SERVICE ISSUER [--expired]
  Writes the port it listens on to PORTFILE. USERS: lines "user:password".
  --expired issues tokens whose exp is in the past (the registry refuses them).
  Prints one line per token issued: "token user=NAME|- scope=SCOPE".
"""
import base64, json, os, subprocess, sys, time, uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs

portfile, key, cert, users_file, service, issuer = sys.argv[1:7]
expired = "--expired" in sys.argv[7:]
users = {}
for line in open(users_file):
    line = line.strip()
    if ":" in line:
        u, p = line.split(":", 1)
        users[u] = p
der = subprocess.run(["openssl", "x509", "-in", cert, "-outform", "DER"],
                     check=True, capture_output=True).stdout


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def sign(claims):
    header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
    signing_input = (b64url(json.dumps(header).encode()) + "." +
                     b64url(json.dumps(claims).encode())).encode()
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=signing_input,
                         check=True, capture_output=True).stdout
    return signing_input.decode() + "." + b64url(sig)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def deny(self):
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="kiln-test-token"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        url = urlparse(self.path)
        q = parse_qs(url.query)
        subject = ""
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                u, p = base64.b64decode(auth[6:]).decode().split(":", 1)
            except Exception:
                return self.deny()
            if users.get(u) != p:
                return self.deny()
            subject = u
        elif auth:
            return self.deny()
        access = []
        for scope in q.get("scope", []):
            for one in scope.split(" "):
                parts = one.split(":")
                if len(parts) < 3 or parts[0] != "repository":
                    continue
                actions = parts[-1].split(",")
                name = ":".join(parts[1:-1])
                # Anonymous users may pull; pushing needs a login.
                if not subject:
                    actions = [a for a in actions if a == "pull"]
                access.append({"type": "repository", "name": name, "actions": actions})
        now = int(time.time())
        exp = now - 3600 if expired else now + 300
        claims = {"iss": issuer, "sub": subject, "aud": service, "exp": exp,
                  "nbf": now - 7200 if expired else now - 10, "iat": now - 10,
                  "jti": uuid.uuid4().hex, "access": access}
        print("token user=%s scope=%s" % (subject or "-", " ".join(q.get("scope", []))), flush=True)
        body = json.dumps({"token": sign(claims), "expires_in": 300,
                           "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()

#!/usr/bin/env python3
"""Small traffic tools for the xlb end-to-end tests (stdlib only).

  nettool.py tcp-server --bind ADDR --port P --name NAME [--delay S]
      answers each connection with "NAME <first line received>\\n" after
      DELAY seconds, then closes.  Runs until SIGTERM.
  nettool.py tcp-client --dst ADDR --port P --send TOKEN
                        [--bind ADDR] [--bind-port P] [--timeout S]
      sends "TOKEN\\n", prints the whole answer.  Exit 1 on error.
  nettool.py udp-server --bind ADDR --port P --name NAME
      answers each datagram with "NAME <datagram>", a datagram
      "fill N SEED" with "NAME " and N bytes of fill(SEED, N) (an answer
      as large as asked: larger than the MTU, the kernel fragments it).
      Runs until SIGTERM.
  nettool.py http-server --bind ADDR --port P --name NAME
                         [--slow-file PATH] [--slow-delay S]
      answers every GET with 200 and the body "NAME\\n" (HTTP/1.0, one
      thread per connection); while PATH exists, only after reading the
      request and waiting S seconds (a backend that accepts and answers
      too late).  One log line per request on stderr.  Runs until SIGTERM.
  nettool.py udp-client --dst ADDR --port P [--count N] [--timeout S]
                        [--retries N] [--size B | --answer-size B]
                        [--bind ADDR]
      N queries, each from a new socket (a new flow; with --bind, bound
      to ADDR and a port of the kernel's choice); a query is resent
      from the same socket on timeout (the balancer may drop the first
      packet while it resolves a neighbour).  Prints one line per query:
      the answer's first word, or "timeout".  --size: each query is B
      bytes (random text), the answer must be "NAME <query>";
      --answer-size: each query asks "fill B SEED" (a new SEED each), the
      answer must be "NAME <fill(SEED, B)>".  With either, the line is
      "NAME intact|corrupt BYTES SHA256-PREFIX" (BYTES: the answer's
      bytes after "NAME "), and the exit status 1 unless all are intact.

Every loop is bounded; every socket operation has a timeout.
"""
import argparse
import hashlib
import http.server
import os
import signal
import socket
import sys
import threading
import time


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def tcp_server(a):
    s = socket.socket(family_of(a.bind), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.bind, a.port))
    s.listen(64)

    def handle(c):
        try:
            c.settimeout(10)
            data = b""
            while b"\n" not in data and len(data) < 4096:
                chunk = c.recv(4096)
                if not chunk:
                    break
                data += chunk
            if a.delay:
                time.sleep(a.delay)
            line = data.split(b"\n", 1)[0].decode(errors="replace")
            c.sendall(("%s %s\n" % (a.name, line)).encode())
        except OSError:
            pass
        finally:
            c.close()

    while True:
        c, _ = s.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()


def tcp_client(a):
    s = socket.socket(family_of(a.dst), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.settimeout(a.timeout)
    if a.bind or a.bind_port:
        s.bind((a.bind or "", a.bind_port))
    try:
        s.connect((a.dst, a.port))
        s.sendall((a.send + "\n").encode())
        data = b""
        deadline = time.monotonic() + a.timeout
        while time.monotonic() < deadline:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError as e:
        print("error: %s" % e)
        return 1
    finally:
        s.close()
    sys.stdout.write(data.decode(errors="replace"))
    return 0


# The largest UDP payload (IPv4): a datagram of any size is read whole.
UDP_MAX = 65507


def fill(seed, n):
    """n bytes of text, different at every offset and for every seed:
    sha256(seed:block) in hex, block after block.  A fragment lost,
    repeated or put in the wrong place changes them."""
    out = []
    for i in range((n + 63) // 64):
        out.append(hashlib.sha256(("%s:%d" % (seed, i)).encode())
                   .hexdigest().encode())
    return b"".join(out)[:n]


def udp_server(a):
    s = socket.socket(family_of(a.bind), socket.SOCK_DGRAM)
    s.bind((a.bind, a.port))
    while True:
        data, peer = s.recvfrom(UDP_MAX)
        words = data.split(b" ")
        if len(words) == 3 and words[0] == b"fill" and words[1].isdigit():
            body = fill(words[2].decode(errors="replace"),
                        min(int(words[1]), UDP_MAX - 64))
        else:
            body = data.decode(errors="replace").encode()
        s.sendto(a.name.encode() + b" " + body, peer)


def log_line(peer, text):
    """One line on stderr: time, peer address, text."""
    sys.stderr.write("%.3f %s %s\n" % (time.time(), peer, text))
    sys.stderr.flush()


def http_server(a):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"
        timeout = 10  # on the connection's socket

        def do_GET(self):
            slow = bool(a.slow_file) and os.path.exists(a.slow_file)
            if slow:
                time.sleep(a.slow_delay)
            body = ("%s\n" % a.name).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.log_message("%s %s%s", self.command, self.path,
                             " (after %gs)" % a.slow_delay if slow else "")

        def log_request(self, code="-", size="-"):
            pass  # do_GET logs, with the delay

        def log_message(self, fmt, *args):
            log_line(self.client_address[0], fmt % args)

    class Server(http.server.ThreadingHTTPServer):
        address_family = family_of(a.bind)
        request_queue_size = 64

        def handle_error(self, request, client_address):
            # the peer gave up first (a health check's timeout ends with a
            # RST): one line, not a traceback
            log_line(client_address[0], sys.exc_info()[1])

    Server((a.bind, a.port), Handler).serve_forever()


def udp_query(i, a):
    """Query i, and the body its answer must carry after "NAME " (None:
    any)."""
    if a.size:
        # "q<i> " then random hex up to the size
        q = ("q%d " % i).encode()
        q += os.urandom(a.size).hex().encode()[:max(a.size - len(q), 0)]
        return q, q
    if a.answer_size:
        seed = "%d-%s" % (i, os.urandom(4).hex())
        return ("fill %d %s" % (a.answer_size, seed)).encode(), \
            fill(seed, a.answer_size)
    return ("q%d" % i).encode(), None


def udp_verdict(data, want):
    """The line for an answer: its first word, then, when its body is
    known, whether it is intact, its length and its digest's start."""
    name, _, body = data.partition(b" ")
    answer = name.decode(errors="replace")
    if want is not None:
        answer += " %s %d %s" % ("intact" if body == want else "corrupt",
                                 len(body),
                                 hashlib.sha256(body).hexdigest()[:12])
    return answer


def udp_client(a):
    ok = True
    for i in range(a.count):
        s = socket.socket(family_of(a.dst), socket.SOCK_DGRAM)
        s.settimeout(a.timeout)
        if a.bind:
            s.bind((a.bind, 0))
        query, want = udp_query(i, a)
        answer = "timeout"
        for _ in range(a.retries + 1):
            try:
                s.sendto(query, (a.dst, a.port))
                data, _ = s.recvfrom(UDP_MAX)
                answer = udp_verdict(data, want)
                break
            except socket.timeout:
                continue
            except OSError as e:
                answer = "error:%s" % e.errno
                break
        s.close()
        if answer == "timeout" or answer.startswith("error") or \
                ((a.size or a.answer_size) and " intact " not in answer):
            ok = False
        print(answer, flush=True)
    return 0 if ok else 1


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)

    def server(cmd):
        """A server's subcommand: what it binds, and the name it answers
        with."""
        sp = sub.add_parser(cmd)
        sp.add_argument("--bind", required=True)
        sp.add_argument("--port", type=int, required=True)
        sp.add_argument("--name", required=True)
        return sp

    ts = server("tcp-server")
    ts.add_argument("--delay", type=float, default=0.0)
    tc = sub.add_parser("tcp-client")
    tc.add_argument("--dst", required=True)
    tc.add_argument("--port", type=int, required=True)
    tc.add_argument("--send", required=True)
    tc.add_argument("--bind", default="")
    tc.add_argument("--bind-port", type=int, default=0)
    tc.add_argument("--timeout", type=float, default=5.0)
    server("udp-server")
    hs = server("http-server")
    hs.add_argument("--slow-file", default="")
    hs.add_argument("--slow-delay", type=float, default=2.0)
    uc = sub.add_parser("udp-client")
    uc.add_argument("--dst", required=True)
    uc.add_argument("--port", type=int, required=True)
    uc.add_argument("--count", type=int, default=10)
    uc.add_argument("--timeout", type=float, default=1.0)
    uc.add_argument("--retries", type=int, default=3)
    uc.add_argument("--bind", default="")
    big = uc.add_mutually_exclusive_group()
    big.add_argument("--size", type=int, default=0)
    big.add_argument("--answer-size", type=int, default=0)
    a = p.parse_args()
    fn = {"tcp-server": tcp_server, "tcp-client": tcp_client,
          "udp-server": udp_server, "udp-client": udp_client,
          "http-server": http_server}[a.cmd]
    return fn(a) or 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Continuous client load for the control-plane end-to-end tests.

  control_load.py --url URL --out FILE [--count N] [--duration S]
                  [--interval-ms MS] [--timeout S] [--stop-file PATH]

Sequential HTTP GETs, each on a new TCP connection (a new flow through the
balancer), until COUNT requests, DURATION seconds, or until STOP-FILE
exists, whichever comes first.  One line per request in FILE, flushed:

  <unix time ms> ok <first word of the body>
  <unix time ms> fail <reason>

Every loop is bounded in count and time; every request has a timeout.
"""
import argparse
import http.client
import os
import socket
import sys
import time
import urllib.parse


def one(host, port, path, timeout):
    c = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        c.request("GET", path, headers={"Connection": "close"})
        r = c.getresponse()
        body = r.read(256).decode(errors="replace").split()
        if r.status != 200:
            return "fail", "status-%d" % r.status
        return "ok", body[0] if body else "-"
    except socket.timeout:
        return "fail", "timeout"
    except ConnectionRefusedError:
        return "fail", "refused"
    except ConnectionResetError:
        return "fail", "reset"
    except (OSError, http.client.HTTPException) as e:
        return "fail", type(e).__name__
    finally:
        c.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--count", type=int, default=100000)
    p.add_argument("--duration", type=float, default=60)
    p.add_argument("--interval-ms", type=float, default=0)
    p.add_argument("--timeout", type=float, default=2)
    p.add_argument("--stop-file")
    a = p.parse_args()
    u = urllib.parse.urlsplit(a.url)
    host, port, path = u.hostname, u.port or 80, u.path or "/"
    end = time.monotonic() + a.duration
    with open(a.out, "w", buffering=1) as out:
        for _ in range(a.count):
            if time.monotonic() >= end:
                break
            if a.stop_file and os.path.exists(a.stop_file):
                break
            t = time.time()
            status, what = one(host, port, path, a.timeout)
            out.write("%d %s %s\n" % (int(t * 1000), status, what))
            if a.interval_ms:
                time.sleep(a.interval_ms / 1000.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())

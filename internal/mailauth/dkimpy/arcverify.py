#!/usr/bin/python3
"""Validate the ARC chain of a message with dkimpy, an implementation
independent of Tidings' (Debian's python3-dkim).

    python3 arcverify.py DNS_HOST:PORT < message

(internal/mailauth/dkimpy runs it for the tests.)

Keys are looked up at the DNS server given (a test server on loopback).
Prints one JSON object: cv ("pass", "fail", "none", or null when the chain
ends in a seal saying cv=fail), the reason, and per instance, newest
first, whether its ARC-Message-Signature and ARC-Seal verify.
"""
import json
import sys

import dkim
import dns.resolver


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [host.strip("[]")]
    resolver.port = int(port)

    def dnsfunc(name, timeout=5):
        try:
            answer = resolver.resolve(name.decode().rstrip("."), "TXT", lifetime=timeout)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        return b"".join(answer[0].strings)

    cv, results, reason = dkim.arc_verify(sys.stdin.buffer.read(), dnsfunc=dnsfunc)
    out = {
        "cv": cv.decode() if cv is not None else None,
        "reason": reason,
        "sets": [
            {
                "instance": r["instance"],
                "ams_valid": bool(r.get("ams-valid")),
                "as_valid": bool(r.get("as-valid")),
                "cv": r.get("cv", b"").decode(),
                "ams_domain": r.get("ams-domain", b"").decode(),
                "as_domain": r.get("as-domain", b"").decode(),
            }
            for r in results
        ],
    }
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()

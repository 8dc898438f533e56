"""Run a list of boto3 calls in one process and print their answers as JSON.

The e2e tests use it where they need many calls whose client does not
matter (snapshots before and after a restart), because one process of
boto3 costs far less than one AWS CLI process per call.

stdin: [{"service": "mailmanager", "op": "get_archive", "params": {...}}, ...]
A string parameter "$N.Path.To.Field" is replaced by that field of answer N.
stdout: [{"ok": true, "result": {...}} | {"ok": false, "code": "...",
          "message": "...", "status": 400}, ...]
Timestamps come out as epoch seconds, as on the awsJson1_0 wire.
"""

import datetime
import json
import sys

from botocore.exceptions import ClientError

from common import client

_clients = {}


def resolve(v, results):
    if isinstance(v, str) and v.startswith("$") and "." in v:
        idx, _, path = v[1:].partition(".")
        cur = results[int(idx)]["result"]
        for p in path.split("."):
            cur = cur[int(p)] if isinstance(cur, list) else cur[p]
        return cur
    if isinstance(v, dict):
        return {k: resolve(x, results) for k, x in v.items()}
    if isinstance(v, list):
        return [resolve(x, results) for x in v]
    return v


def plain(v):
    if isinstance(v, datetime.datetime):
        return v.timestamp()
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items() if k != "ResponseMetadata"}
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v


def main():
    calls = json.load(sys.stdin)
    results = []
    for c in calls:
        svc = c.get("service", "mailmanager")
        if svc not in _clients:
            _clients[svc] = client(svc)
        try:
            params = resolve(c.get("params", {}), results)
            out = getattr(_clients[svc], c["op"])(**params)
            results.append({"ok": True, "result": plain(out)})
        except ClientError as e:
            results.append({"ok": False, "code": e.response["Error"].get("Code"),
                            "message": e.response["Error"].get("Message", ""),
                            "status": e.response["ResponseMetadata"].get("HTTPStatusCode")})
        except (KeyError, IndexError, TypeError, ValueError) as e:
            # A reference to a failed or missing answer, or bad parameters.
            results.append({"ok": False, "code": "BatchError", "message": f"{type(e).__name__}: {e}", "status": 0})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()

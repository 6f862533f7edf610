"""A small legacy-era MCP server on stdin and stdout, with scripted misbehaviour.

    python tests/stdio_peer.py --log FILE [--mode MODE]

Every line it reads is appended to FILE as it arrived. Modes:

- ``normal``: answers ``server/discover`` with -32601 (a legacy server), ``initialize``,
  ``tools/list`` and ``tools/call`` of ``echo``, ``env`` (its environment's names),
  ``cancel-own`` (sends ``notifications/cancelled`` for a request of its own with the
  call's id, then answers) and ``slow`` (never answers). Other methods get a -32601 error.
- ``silent-probe``: ignores ``server/discover`` entirely, as some legacy servers do.
- ``noise``: writes a line that is not JSON and one nested too deeply to parse, and
  answers ``tools/list`` as a batch array.
- ``oversize``: answers ``tools/call`` with one line of 2 MiB.
- ``exit-mid-call``: exits with status 3 on ``tools/call``.
- ``crash-once``: the first process exits (status 3) on ``tools/list`` or a call of
  ``crash``; the processes started after it (FILE.crashed exists) answer them.
- ``quiet-helper``: like ``helper``, but the helper's stdout is /dev/null (it does not
  keep the server's stdout open).
- ``helper-crash``: starts a helper that inherits stdout and sleeps 60 s, and exits
  (status 3) on a call of ``crash``: its stdout stays open after it is gone.
- ``modern``: a 2026-07-28 server. ``subscriptions/listen`` is acknowledged; a call of
  ``announce`` sends ``tools/list_changed`` tagged with the listen's id and again tagged
  with an id that is not the client's; a call of ``end`` ends the subscription with
  ``notifications/cancelled``; a call of ``refuse`` is ended so too, with no response.
- ``old``: a 2024-11-05 server (answers ``initialize`` with that version).
- ``stubborn``: ignores SIGTERM and the end of stdin (only SIGKILL stops it).
- ``helper``: starts a helper process that inherits stdout and sleeps; writes its pid to
  FILE.helper. The server itself behaves normally.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any


def send(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def result(request_id: Any, value: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "result": value}


LOG = ""
TOOLS = [{"name": name, "inputSchema": {"type": "object"}} for name in ("echo", "env", "slow")]


LISTEN: list[Any] = []  # ids of the open subscriptions (modern mode)
COMPLETE = {"resultType": "complete"}


def modern(message: dict[str, Any]) -> None:
    method, request_id = message.get("method"), message.get("id")
    params = message.get("params") or {}
    if request_id is None:
        if method == "notifications/cancelled" and params.get("requestId") in LISTEN:
            LISTEN.remove(params["requestId"])
        return
    if method == "server/discover":
        caps = {"tools": {"listChanged": True}}
        discover = {"supportedVersions": ["2026-07-28"], "capabilities": caps}
        send(result(request_id, {**discover, **COMPLETE, "ttlMs": 0, "cacheScope": "public"}))
    elif method == "subscriptions/listen":
        LISTEN.append(request_id)
        honoured = {"notifications": params.get("notifications", {})}
        tag = {"io.modelcontextprotocol/subscriptionId": request_id}
        ack = {**honoured, "_meta": tag}
        send(
            {"jsonrpc": "2.0", "method": "notifications/subscriptions/acknowledged", "params": ack}
        )
    elif method == "tools/list":
        names = ("announce", "end", "refuse")
        tools = [{"name": n, "inputSchema": {"type": "object"}} for n in names]
        send(result(request_id, {"tools": tools, **COMPLETE, "ttlMs": 0, "cacheScope": "public"}))
    elif method == "tools/call":
        if params.get("name") == "announce":
            for subscription in (*LISTEN, "not-yours"):
                tag = {"io.modelcontextprotocol/subscriptionId": subscription}
                changed = {"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}
                send({**changed, "params": {"_meta": tag}})
        elif params.get("name") == "end":
            for subscription in LISTEN:
                cancel = {"requestId": subscription, "reason": "shutting down"}
                send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": cancel})
            LISTEN.clear()
        elif params.get("name") == "refuse":
            cancel = {"requestId": request_id, "reason": "refused"}
            send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": cancel})
            return
        send(result(request_id, {"content": [{"type": "text", "text": "ok"}], **COMPLETE}))
    else:
        send({"jsonrpc": "2.0", "id": request_id, "error": {"code": -32601, "message": method}})


def answer(message: dict[str, Any], mode: str) -> None:
    if mode == "modern":
        modern(message)
        return
    method, request_id = message.get("method"), message.get("id")
    params = message.get("params") or {}
    if request_id is None:
        return  # a notification
    if method == "server/discover":
        if mode != "silent-probe":
            error = {"code": -32601, "message": "Method not found"}
            send({"jsonrpc": "2.0", "id": request_id, "error": error})
    elif method == "initialize":
        info = {"name": "stdio-peer", "version": "1"}
        caps: dict[str, Any] = {"tools": {}}
        version = "2024-11-05" if mode == "old" else "2025-11-25"
        init = {"protocolVersion": version, "capabilities": caps, "serverInfo": info}
        send(result(request_id, init))
    elif mode == "crash-once" and (
        method == "tools/list" or (method == "tools/call" and params.get("name") == "crash")
    ):
        if not os.path.exists(LOG + ".crashed"):
            open(LOG + ".crashed", "w").close()
            sys.exit(3)
        send(result(request_id, {"tools": TOOLS} if method == "tools/list" else {"content": []}))
    elif mode == "helper-crash" and method == "tools/call" and params.get("name") == "crash":
        sys.exit(3)
    elif method == "tools/list":
        reply = result(request_id, {"tools": TOOLS})
        if mode == "noise":
            sys.stdout.write(json.dumps([reply]) + "\n")  # a batch of one
            sys.stdout.flush()
        else:
            send(reply)
    elif method == "tools/call":
        name = params.get("name")
        if mode == "oversize":
            send(result(request_id, {"content": [{"type": "text", "text": "x" * (2 << 20)}]}))
        elif mode == "exit-mid-call":
            sys.exit(3)
        elif name == "echo":
            text = params.get("arguments", {}).get("text", "")
            send(result(request_id, {"content": [{"type": "text", "text": text}]}))
        elif name == "cancel-own":
            # Cancels a request of its own whose id is the same number as this call's (no
            # such request was sent: ids are per side), then answers the call.
            cancel = {"requestId": request_id, "reason": "its own request, not yours"}
            send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": cancel})
            send(result(request_id, {"content": [{"type": "text", "text": "answered"}]}))
        elif name == "env":
            text = " ".join(sorted(os.environ))
            send(result(request_id, {"content": [{"type": "text", "text": text}]}))
        # slow: never answered
    elif method == "ping":
        send(result(request_id, {}))
    else:
        send({"jsonrpc": "2.0", "id": request_id, "error": {"code": -32601, "message": method}})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--log", required=True)
    parser.add_argument("--mode", default="normal")
    args = parser.parse_args()
    global LOG
    LOG = args.log
    if args.mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if args.mode in ("helper", "helper-crash", "quiet-helper"):
        quiet = subprocess.DEVNULL if args.mode == "quiet-helper" else None
        sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
        helper = subprocess.Popen(sleeper, stdout=quiet)
        with open(args.log + ".helper", "w", encoding="utf-8") as out:
            out.write(str(helper.pid))
    if args.mode == "noise":
        sys.stdout.write("this is not JSON\n")
        sys.stdout.write("[" * 100_000 + "]" * 100_000 + "\n")
        sys.stdout.flush()
    print(f"stdio-peer {args.mode} starting", file=sys.stderr, flush=True)
    with open(args.log, "a", encoding="utf-8") as log:
        for line in sys.stdin:
            log.write(line)
            log.flush()
            answer(json.loads(line), args.mode)
    if args.mode == "stubborn":
        while True:
            time.sleep(1)


if __name__ == "__main__":
    main()

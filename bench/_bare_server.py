"""The physical limit for bench/live_fanout.py: a bare `websockets` server.

No Django, no database, no channel layer, no authentication (clients say who
they are in the query string). It speaks the same frames as Roundtable for the
benchmark's scenario and fans them out the cheapest way Python can: each frame
is encoded once and written to every recipient with `websockets.broadcast`.

- `mode.set` → `mode.changed` (sequenced) to everyone in the session, ack;
- `chat.send` (table) → `chat.posted` to that table and the staff, ack;
- `reaction.send` → counted, one `reactions.sent` per 0.5 s to everyone, ack;
- joins → one `presence.summary_changed` per second to everyone (coalesced);
- `ping` → `pong`.

    python bench/_bare_server.py PORT
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import broadcast, serve

everyone: dict[int, set] = defaultdict(set)
tables: dict[tuple[int, int], set] = defaultdict(set)
staff: dict[int, set] = defaultdict(set)
seq: Counter[int] = Counter()
heads: dict[int, dict[str, int]] = defaultdict(dict)
mode: dict[int, str] = defaultdict(lambda: "lecture")
reactions: dict[int, Counter] = defaultdict(Counter)
scheduled: set[tuple[str, int]] = set()
message_ids = 0


def encode(frame: dict) -> str:
    return json.dumps(frame, separators=(",", ":"))


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def sequenced(sid: int, kind: str, stream: str, data: dict) -> str:
    seq[sid] += 1
    prev = heads[sid].get(stream, 0)
    heads[sid][stream] = seq[sid]
    return encode({"type": kind, "seq": seq[sid], "stream": stream, "prev": prev, "data": data})


def coalesce(kind: str, sid: int, delay: float, flush) -> None:
    if (kind, sid) in scheduled:
        return
    scheduled.add((kind, sid))

    def fire() -> None:
        scheduled.discard((kind, sid))
        flush(sid)

    asyncio.get_running_loop().call_later(delay, fire)


def flush_presence(sid: int) -> None:
    broadcast(
        everyone[sid],
        encode({"type": "presence.summary_changed", "data": {"present": len(everyone[sid])}}),
    )


def flush_reactions(sid: int) -> None:
    counts = dict(reactions.pop(sid, {}))
    if counts:
        frame = {"type": "reactions.sent", "data": {"counts": counts, "at": now_iso()}}
        broadcast(everyone[sid], encode(frame))


async def handler(ws) -> None:
    global message_ids
    parts = urlsplit(ws.request.path)
    try:
        sid = int(parts.path.strip("/").split("/")[-1])
        query = {key: int(values[0]) for key, values in parse_qs(parts.query).items()}
    except ValueError:
        await ws.close(4404)
        return
    uid, tid, is_staff = query.get("u", 0), query.get("t", 0), bool(query.get("s", 0))
    everyone[sid].add(ws)
    if is_staff:
        staff[sid].add(ws)
    elif tid:
        tables[(sid, tid)].add(ws)
    snapshot = {
        "seq": seq[sid],
        "heads": heads[sid],
        "server_time": now_iso(),
        "me": {"id": uid, "name": f"user {uid}", "is_staff": is_staff, "table_id": tid or None},
        "mode": {"mode": mode[sid], "table_id": None, "podium_addresses_all": False},
        "table": {"id": tid, "members": []} if tid else None,
        "chat": {"channels": ["class", "table"], "messages": []},
        "present": len(everyone[sid]),
    }
    await ws.send(encode({"type": "snapshot", "seq": seq[sid], "data": snapshot}))
    coalesce("presence", sid, 1.0, flush_presence)
    try:
        async for text in ws:
            frame = json.loads(text)
            kind, frame_id, data = frame.get("type"), frame.get("id"), frame.get("data") or {}
            if kind == "ping":
                await ws.send(
                    encode(
                        {
                            "type": "pong",
                            "id": frame_id,
                            "data": {"server_time": time.time(), "seq": seq[sid]},
                        }
                    )
                )
                continue
            if kind == "mode.set" and is_staff:
                mode[sid] = data.get("mode", "lecture")
                payload = {
                    "mode": mode[sid],
                    "table_id": None,
                    "podium_addresses_all": False,
                    "changed_at": now_iso(),
                }
                broadcast(everyone[sid], sequenced(sid, "mode.changed", "all", payload))
                result = None
            elif kind == "chat.send" and tid:
                message_ids += 1
                payload = {
                    "id": message_ids,
                    "channel": "table",
                    "table_id": tid,
                    "author": {"id": uid, "name": f"user {uid}"},
                    "body": str(data.get("body", ""))[:2000],
                    "created_at": now_iso(),
                    "deleted": False,
                }
                text_out = sequenced(sid, "chat.posted", f"table.{tid}", payload)
                broadcast(tables[(sid, tid)] | staff[sid], text_out)
                result = {"message_id": message_ids}
            elif kind == "reaction.send":
                reactions[sid][str(data.get("kind", "clap"))] += 1
                coalesce("reactions", sid, 0.5, flush_reactions)
                result = None
            else:
                await ws.send(
                    encode(
                        {
                            "type": "error",
                            "id": frame_id,
                            "data": {"code": "unknown_type", "message": kind},
                        }
                    )
                )
                continue
            ack = {"type": "ack", "id": frame_id}
            if result is not None:
                ack["data"] = result
            await ws.send(encode(ack))
    finally:
        everyone[sid].discard(ws)
        staff[sid].discard(ws)
        tables[(sid, tid)].discard(ws)


async def main(port: int) -> None:
    async with serve(handler, "127.0.0.1", port, compression=None, max_queue=64, ping_interval=20):
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))

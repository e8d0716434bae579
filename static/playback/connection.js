// The playback-room WebSocket (docs/realtime.md, "Playback rooms"): the
// shared room socket (static/core/room_connection.js) with the playback
// cadence: pings from the moment the socket opens, fast at first, feeding
// the server clock; actions retried after reconnects, or sent once.

import { RoomSocket, newId } from "../core/room_connection.js";
import { ServerClock, localNow } from "./sync.js";

export { newId };

const PING_FAST_MS = 700; // the first samples come quickly…
const PING_SLOW_MS = 5_000; // …then a sample every few seconds keeps the clock fresh
const PING_FAST_COUNT = 8;

export class RoomConnection extends RoomSocket {
  constructor({ url, onFrame, onStatus, onError }) {
    super({ url, onFrame, onStatus, onError });
    this.clock = new ServerClock();
    this.pingCount = 0;
  }

  socketUrl(resume) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    return `${scheme}://${location.host}${this.url}${resume == null ? "" : `?seq=${resume}`}`;
  }

  opened() {
    this.attempt = 0;
    this.pingCount = 0;
    this.schedulePing(0);
  }

  lost() {
    for (const [id, entry] of this.pending) {
      if (!entry.retry) {
        this.pending.delete(id);
        entry.resolve({ ok: false, error: { code: "offline" } });
      }
    }
  }

  readied() {
    for (const [id, entry] of this.pending) {
      if (entry.retry) this.raw({ type: entry.type, id, data: entry.data });
    }
  }

  // --- Clock ------------------------------------------------------------------------

  schedulePing(delay) {
    clearTimeout(this.pingTimer);
    this.pingTimer = setTimeout(() => this.ping(), delay);
  }

  ping() {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    const id = newId();
    const t0 = localNow();
    this.pings.set(id, t0);
    this.raw({ type: "ping", id, data: { t: t0, seq: this.seq } });
    this.pingCount += 1;
    this.schedulePing(this.pingCount < PING_FAST_COUNT ? PING_FAST_MS : PING_SLOW_MS);
  }

  pong(frame) {
    const t3 = localNow();
    const t0 = this.pings.get(frame.id);
    if (t0 == null) return;
    this.pings.delete(frame.id);
    this.clock.add(t0, frame.data.server_ms, t3);
  }

  // --- Outgoing ------------------------------------------------------------------------

  /** Send an action; resolves with {ok, data} or {ok: false, error}. Retried after reconnects. */
  request(type, data = {}) {
    const id = newId();
    return new Promise((resolve) => {
      this.pending.set(id, { type, data, resolve, retry: true });
      if (this.ready) this.raw({ type, id, data });
    });
  }

  /** Send once, no retry after a reconnect (heartbeats, readiness): resolves
   * with the answer, or {ok: false} when the socket is not open. */
  send(type, data = {}) {
    if (!this.ready) return Promise.resolve({ ok: false, error: { code: "offline" } });
    const id = newId();
    return new Promise((resolve) => {
      this.pending.set(id, { type, data, resolve, retry: false });
      this.raw({ type, id, data });
    });
  }
}

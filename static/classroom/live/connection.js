// The live-session WebSocket client (docs/realtime.md): the shared room
// socket (static/core/room_connection.js) with the live cadence: a ping every
// 10 s once ready (two unanswered pings drop the socket), the server clock
// from the snapshot and the pongs, and actions that wait while disconnected.

import { RoomSocket, backoffDelay, frameType, newId } from "../../core/room_connection.js";

export { backoffDelay, frameType, newId };

const PING_EVERY_MS = 10_000;

export class LiveConnection extends RoomSocket {
  /**
   * @param {object} options  as RoomSocket, plus
   * @param {(offsetMs: number) => void} [options.onClock]  server clock minus local clock
   */
  constructor({ url, onFrame, onStatus, onError, onClock }) {
    super({ url, onFrame, onStatus, onError });
    this.onClock = onClock || (() => {});
    this.status = "connecting";
    window.addEventListener("offline", () => this.drop());
  }

  setStatus(status, detail) {
    if (status === this.status && status !== "fatal") return;
    this.status = status;
    this.onStatus(status, detail);
  }

  snapshotTaken(data) {
    if (data.server_time) this.onClock(Date.parse(data.server_time) - Date.now());
  }

  readied() {
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => this.ping(), PING_EVERY_MS);
    // Actions not acknowledged on an earlier socket go again with the same id:
    // the server answers a duplicate with an ack and does not apply it twice.
    for (const entry of this.pending.values()) {
      if (entry.sentOn !== this.socketNumber) this.transmit(entry);
    }
  }

  ping() {
    if (!this.ready) return;
    if (this.pings.size >= 2) {
      // Two pings without an answer: the connection is dead without a close.
      this.drop();
      return;
    }
    const id = newId();
    this.pings.set(id, Date.now());
    this.raw({ type: "ping", id, data: { seq: this.seq ?? 0 } });
  }

  pong(frame) {
    const sentAt = this.pings.get(frame.id);
    this.pings.clear();
    const serverTime = frame.data?.server_time;
    if (sentAt && typeof serverTime === "number") {
      const now = Date.now();
      this.onClock(serverTime * 1000 - (sentAt + now) / 2);
    }
  }

  send(frame) {
    return this.raw(frame);
  }

  transmit(entry) {
    if (!this.ready) return;
    if (this.raw({ type: entry.type, id: entry.id, data: entry.data })) {
      entry.sentOn = this.socketNumber;
    }
  }

  /**
   * Send an action; resolves with {ok, data} or {ok: false, error}, never rejects.
   * While disconnected it waits and goes out (once) after the reconnect.
   */
  request(type, data = {}, id = newId()) {
    return new Promise((resolve) => {
      const entry = { id, type, data, resolve, sentOn: 0 };
      this.pending.set(entry.id, entry);
      this.transmit(entry);
    });
  }
}

// The live-session WebSocket client (docs/realtime.md): reconnects with
// backoff, recovers with ?seq= / resync, detects lost frames per stream,
// pings, and sends every action with an id that survives reconnects so the
// server applies it exactly once.

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 10_000;
const PING_EVERY_MS = 10_000;
const GAP_HOLD_MS = 1_500;
const CLOSE_FATAL = new Set([4403, 4404]);

export function newId() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  // Plain-http hosts other than localhost are not secure contexts: no randomUUID.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function backoffDelay(attempt) {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt);
  // "Equal jitter": never below half the ceiling, so retries stay spread out.
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

export class LiveConnection {
  /**
   * @param {object} options
   * @param {string} options.url  ws(s)://host/ws/live/<id>/
   * @param {(frame: object) => void} options.onFrame  snapshot, sequenced frames in order, ephemeral frames
   * @param {(status: string, detail?: object) => void} options.onStatus  connecting | open | reconnecting | fatal
   * @param {(error: object) => void} options.onError  error frames that answer no request()
   * @param {(offsetMs: number) => void} [options.onClock]  server clock minus local clock
   */
  constructor({ url, onFrame, onStatus, onError, onClock }) {
    this.url = url;
    this.onFrame = onFrame;
    this.onStatus = onStatus;
    this.onError = onError;
    this.onClock = onClock || (() => {});
    this.ws = null;
    this.socketNumber = 0;
    this.ready = false; // this socket delivered its snapshot or resync.done
    this.seq = null; // highest seq applied
    this.heads = {}; // stream -> last seq applied
    this.held = new Map(); // stream -> frames waiting for a missing predecessor
    this.gapTimer = null;
    this.pending = new Map(); // action id -> {type, data, resolve, sentOn}
    this.pings = new Map(); // ping id -> local send time
    this.attempt = 0;
    this.reconnectTimer = null;
    this.pingTimer = null;
    this.stopped = false;
    this.status = "connecting";
    this.lastFatal = null;
    window.addEventListener("offline", () => this.drop());
    window.addEventListener("online", () => this.reconnectSoon(0));
  }

  start() {
    this.connect();
  }

  /** The seq to resume from: below any stream still waiting for a lost frame. */
  resumeSeq() {
    let seq = this.seq;
    for (const stream of this.held.keys()) {
      const head = this.heads[stream] ?? 0;
      seq = seq == null ? head : Math.min(seq, head);
    }
    return seq;
  }

  connect() {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    if (this.stopped) return;
    const resume = this.resumeSeq();
    const url = resume == null ? this.url : `${this.url}?seq=${resume}`;
    const ws = new WebSocket(url);
    const number = ++this.socketNumber;
    this.ws = ws;
    this.ready = false;
    this.setStatus(this.seq == null && number === 1 ? "connecting" : "reconnecting");
    ws.onmessage = (event) => {
      if (this.ws !== ws) return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      this.handle(frame);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.closed(event.code);
    };
  }

  /** Forget the current socket at once (offline, silent server) and reconnect. */
  drop() {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    try {
      ws.close();
    } catch {
      /* already closing */
    }
    this.closed(1006);
  }

  closed(code) {
    this.ws = null;
    this.ready = false;
    clearInterval(this.pingTimer);
    this.pingTimer = null;
    this.pings.clear();
    if (CLOSE_FATAL.has(code)) {
      this.stopped = true;
      this.setStatus("fatal", this.lastFatal || {});
      return;
    }
    this.setStatus("reconnecting");
    this.reconnectSoon(backoffDelay(this.attempt));
    this.attempt += 1;
  }

  reconnectSoon(delay) {
    if (this.stopped || this.ws) return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  setStatus(status, detail) {
    if (status === this.status && status !== "fatal") return;
    this.status = status;
    this.onStatus(status, detail);
  }

  // --- Incoming ------------------------------------------------------------------

  handle(frame) {
    switch (frame.type) {
      case "snapshot":
        this.snapshot(frame);
        return;
      case "resync.done":
        this.drainAll();
        if (this.held.size) {
          // The buffer did not fill the gap: start over from a snapshot.
          this.send({ type: "resync", data: {} });
        }
        this.becomeReady();
        return;
      case "ack": {
        const entry = this.pending.get(frame.id);
        if (entry) {
          this.pending.delete(frame.id);
          entry.resolve({ ok: true, data: frame.data || {}, duplicate: Boolean(frame.duplicate) });
        }
        return;
      }
      case "error": {
        const entry = frame.id ? this.pending.get(frame.id) : null;
        if (entry) {
          // The caller of request() decides how to show it.
          this.pending.delete(frame.id);
          entry.resolve({ ok: false, error: frame.data || {} });
          return;
        }
        if (!frame.id && !this.ready) this.lastFatal = frame.data;
        this.onError(frame.data || {});
        return;
      }
      case "pong":
        this.pong(frame);
        return;
      default:
        if (typeof frame.seq === "number" && typeof frame.stream === "string") {
          this.sequenced(frame);
        } else {
          this.onFrame(frame);
        }
    }
  }

  snapshot(frame) {
    const data = frame.data || {};
    this.seq = frame.seq ?? data.seq ?? 0;
    this.heads = { ...(data.heads || {}) };
    for (const [stream, frames] of this.held) {
      const head = this.heads[stream] ?? 0;
      const later = frames.filter((f) => f.seq > head);
      if (later.length) this.held.set(stream, later);
      else this.held.delete(stream);
    }
    if (data.server_time) this.onClock(Date.parse(data.server_time) - Date.now());
    this.onFrame(frame);
    this.drainAll();
    this.becomeReady();
  }

  sequenced(frame) {
    const head = this.heads[frame.stream] ?? 0;
    if (frame.seq <= head) return; // already applied (replay, or inside the snapshot)
    if ((frame.prev ?? 0) > head) {
      this.hold(frame);
      return;
    }
    this.apply(frame);
    this.drain(frame.stream);
  }

  apply(frame) {
    this.heads[frame.stream] = frame.seq;
    this.seq = this.seq == null ? frame.seq : Math.max(this.seq, frame.seq);
    this.onFrame(frame);
  }

  hold(frame) {
    const frames = this.held.get(frame.stream) || [];
    if (!frames.some((f) => f.seq === frame.seq)) frames.push(frame);
    frames.sort((a, b) => a.seq - b.seq);
    this.held.set(frame.stream, frames);
    if (!this.gapTimer) {
      this.gapTimer = setTimeout(() => {
        this.gapTimer = null;
        if (this.held.size && this.ready) {
          this.send({ type: "resync", data: { seq: this.resumeSeq() } });
        }
      }, GAP_HOLD_MS);
    }
  }

  drain(stream) {
    const frames = this.held.get(stream);
    if (!frames) return;
    while (frames.length) {
      const head = this.heads[stream] ?? 0;
      const next = frames[0];
      if (next.seq <= head) {
        frames.shift();
      } else if ((next.prev ?? 0) <= head) {
        frames.shift();
        this.apply(next);
      } else {
        break;
      }
    }
    if (!frames.length) this.held.delete(stream);
    if (!this.held.size) {
      clearTimeout(this.gapTimer);
      this.gapTimer = null;
    }
  }

  drainAll() {
    for (const stream of [...this.held.keys()]) this.drain(stream);
  }

  becomeReady() {
    if (this.ready) return;
    this.ready = true;
    this.attempt = 0;
    this.setStatus("open");
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => this.ping(), PING_EVERY_MS);
    // Actions not acknowledged on an earlier socket go again with the same id:
    // the server answers a duplicate with an ack and does not apply it twice.
    for (const entry of this.pending.values()) {
      if (entry.sentOn !== this.socketNumber) this.transmit(entry);
    }
  }

  // --- Ping --------------------------------------------------------------------------

  ping() {
    if (!this.ready) return;
    if (this.pings.size >= 2) {
      // Two pings without an answer: the connection is dead without a close.
      this.drop();
      return;
    }
    const id = newId();
    this.pings.set(id, Date.now());
    this.send({ type: "ping", id, data: { seq: this.seq ?? 0 } });
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

  // --- Outgoing ----------------------------------------------------------------------

  send(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  transmit(entry) {
    if (!this.ready) return;
    if (this.send({ type: entry.type, id: entry.id, data: entry.data })) {
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

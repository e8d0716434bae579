// The playback-room WebSocket (docs/realtime.md, "Playback rooms"): reconnects
// with backoff, resumes with ?seq= / resync, detects lost frames per stream,
// keeps the server clock with pings, and sends every action with an id that
// survives reconnects so the server applies it once.

import { ServerClock, localNow } from "./sync.js";

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 10_000;
const PING_FAST_MS = 700; // the first samples come quickly…
const PING_SLOW_MS = 5_000; // …then a sample every few seconds keeps the clock fresh
const PING_FAST_COUNT = 8;
const GAP_HOLD_MS = 1_500;
const CLOSE_FATAL = new Set([4403, 4404]);

export function newId() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class RoomConnection {
  constructor({ url, onFrame, onStatus, onError }) {
    this.url = url;
    this.onFrame = onFrame;
    this.onStatus = onStatus;
    this.onError = onError;
    this.clock = new ServerClock();
    this.ws = null;
    this.seq = null;
    this.heads = {};
    this.held = new Map();
    this.gapTimer = null;
    this.pending = new Map();
    this.pings = new Map();
    this.pingCount = 0;
    this.pingTimer = null;
    this.attempt = 0;
    this.stopped = false;
    this.ready = false;
    this.lastFatal = null;
    window.addEventListener("online", () => this.reconnectSoon(0));
  }

  start() {
    this.connect();
  }

  connect() {
    if (this.stopped) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const resume = this.seq == null ? "" : `?seq=${this.resumeSeq()}`;
    const ws = new WebSocket(`${scheme}://${location.host}${this.url}${resume}`);
    this.ws = ws;
    this.ready = false;
    this.onStatus(this.seq == null ? "connecting" : "reconnecting");
    ws.onopen = () => {
      this.attempt = 0;
      this.pingCount = 0;
      this.schedulePing(0);
    };
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
      this.ws = null;
      this.ready = false;
      clearTimeout(this.pingTimer);
      this.pings.clear();
      for (const [id, entry] of this.pending) {
        if (!entry.retry) {
          this.pending.delete(id);
          entry.resolve({ ok: false, error: { code: "offline" } });
        }
      }
      if (CLOSE_FATAL.has(event.code)) {
        this.stopped = true;
        this.onStatus("fatal", this.lastFatal || {});
        return;
      }
      this.onStatus("reconnecting");
      const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt);
      this.attempt += 1;
      this.reconnectSoon(Math.round(ceiling / 2 + (Math.random() * ceiling) / 2));
    };
  }

  reconnectSoon(delay) {
    if (this.stopped || this.ws) return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  resumeSeq() {
    let seq = this.seq;
    for (const stream of this.held.keys()) seq = Math.min(seq, this.heads[stream] ?? 0);
    return seq;
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

  // --- Incoming -----------------------------------------------------------------------

  handle(frame) {
    switch (frame.type) {
      case "snapshot":
        this.seq = frame.seq;
        this.heads = { ...(frame.data.heads || {}) };
        this.held.clear();
        this.onFrame(frame);
        this.becomeReady();
        return;
      case "resync.done":
        this.becomeReady();
        return;
      case "pong":
        this.pong(frame);
        return;
      case "ack":
      case "error": {
        const entry = frame.id ? this.pending.get(frame.id) : null;
        if (entry) {
          this.pending.delete(frame.id);
          entry.resolve(frame.type === "ack" ? { ok: true, data: frame.data || {}, duplicate: !!frame.duplicate } : { ok: false, error: frame.data || {} });
        } else if (frame.type === "error") {
          if (!this.ready) this.lastFatal = frame.data;
          this.onError(frame.data || {});
        }
        return;
      }
      default:
        if (typeof frame.seq === "number" && typeof frame.stream === "string") this.sequenced(frame);
        else this.onFrame(frame);
    }
  }

  sequenced(frame) {
    const head = this.heads[frame.stream] ?? 0;
    if (frame.seq <= head) return; // seen already (the snapshot held it)
    if (frame.prev > head) {
      // A frame of this stream is missing: hold this one for a moment.
      const held = this.held.get(frame.stream) || [];
      held.push(frame);
      this.held.set(frame.stream, held);
      clearTimeout(this.gapTimer);
      this.gapTimer = setTimeout(() => this.raw({ type: "resync", data: { seq: this.resumeSeq() } }), GAP_HOLD_MS);
      return;
    }
    this.apply(frame);
    this.drain(frame.stream);
  }

  apply(frame) {
    this.heads[frame.stream] = frame.seq;
    this.seq = Math.max(this.seq ?? 0, frame.seq);
    this.onFrame(frame);
  }

  drain(stream) {
    const held = this.held.get(stream);
    if (!held) return;
    held.sort((a, b) => a.seq - b.seq);
    while (held.length && held[0].prev <= (this.heads[stream] ?? 0)) {
      const next = held.shift();
      if (next.seq > (this.heads[stream] ?? 0)) this.apply(next);
    }
    if (!held.length) {
      this.held.delete(stream);
      if (!this.held.size) clearTimeout(this.gapTimer);
    }
  }

  becomeReady() {
    this.ready = true;
    this.onStatus("open");
    for (const [id, entry] of this.pending) {
      if (entry.retry) this.raw({ type: entry.type, id, data: entry.data });
    }
  }

  // --- Outgoing ------------------------------------------------------------------------

  raw(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

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

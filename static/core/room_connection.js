// The room WebSocket client shared by the live classroom and playback rooms
// (docs/realtime.md): reconnects with backoff, resumes with ?seq= / resync,
// detects lost frames per stream (`prev`), answers pongs, and sends actions
// with ids that survive reconnects so the server applies each once (a
// duplicate is answered with the first ack). Each page subclasses it for its
// ping cadence, its clock and its retry rule.

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 10_000;
const GAP_HOLD_MS = 1_500;
const CLOSE_FATAL = new Set([4403, 4404]);

// Frame types renamed to the past tense (docs/realtime.md, "Renamed frames"):
// servers send the new names; the old ones are still understood, deprecated.
export const FRAME_RENAMES = {
  "poll.tally": "poll.tally_changed",
  "poll.table_answer": "poll.table_answer_changed",
  "reactions.burst": "reactions.sent",
  "table.presence": "table.presence_changed",
  "staff.presence": "staff.presence_changed",
  "presence.summary": "presence.summary_changed",
  "room.state": "room.state_changed",
  "room.members": "room.members_changed",
  "room.settings": "room.settings_changed",
  "room.ready": "room.ready_changed",
  "poll.progress": "poll.progress_changed",
};

/** The current name of a frame type (old names map to their new ones). */
export function frameType(type) {
  return FRAME_RENAMES[type] || type;
}

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

export class RoomSocket {
  /**
   * @param {object} options
   * @param {string} options.url  the socket's URL (subclasses may build it)
   * @param {(frame: object) => void} options.onFrame  snapshot, sequenced frames in order, ephemeral frames
   * @param {(status: string, detail?: object) => void} options.onStatus  connecting | open | reconnecting | fatal
   * @param {(error: object) => void} options.onError  error frames that answer no request
   */
  constructor({ url, onFrame, onStatus, onError }) {
    this.url = url;
    this.onFrame = onFrame;
    this.onStatus = onStatus;
    this.onError = onError;
    this.ws = null;
    this.socketNumber = 0;
    this.ready = false; // this socket delivered its snapshot or resync.done
    this.seq = null; // highest seq applied
    this.heads = {}; // stream -> last seq applied
    this.held = new Map(); // stream -> frames waiting for a missing predecessor
    this.gapTimer = null;
    this.pending = new Map(); // action id -> {type, data, resolve, ...}
    this.pings = new Map(); // ping id -> local send time
    this.attempt = 0;
    this.reconnectTimer = null;
    this.pingTimer = null;
    this.stopped = false;
    this.lastFatal = null;
    window.addEventListener("online", () => this.reconnectSoon(0));
  }

  // Hooks of the subclasses.
  socketUrl(resume) {
    return resume == null ? this.url : `${this.url}?seq=${resume}`;
  }
  setStatus(status, detail) {
    this.onStatus(status, detail);
  }
  opened() {}
  lost() {}
  pong() {}
  readied() {}

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
    const ws = new WebSocket(this.socketUrl(this.resumeSeq()));
    const number = ++this.socketNumber;
    this.ws = ws;
    this.ready = false;
    this.setStatus(this.seq == null && number === 1 ? "connecting" : "reconnecting");
    ws.onopen = () => {
      if (this.ws === ws) this.opened();
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
    clearTimeout(this.pingTimer);
    clearInterval(this.pingTimer);
    this.pingTimer = null;
    this.pings.clear();
    this.lost();
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

  // --- Incoming ------------------------------------------------------------------

  handle(frame) {
    frame.type = frameType(frame.type);
    switch (frame.type) {
      case "snapshot":
        this.snapshot(frame);
        return;
      case "resync.done":
        this.drainAll();
        if (this.held.size) {
          // The buffer did not fill the gap: start over from a snapshot.
          this.raw({ type: "resync", data: {} });
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
    this.snapshotTaken(data);
    this.onFrame(frame);
    this.drainAll();
    this.becomeReady();
  }

  snapshotTaken() {}

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
          this.raw({ type: "resync", data: { seq: this.resumeSeq() } });
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
    this.readied();
  }

  // --- Outgoing ----------------------------------------------------------------------

  raw(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }
}

// Watching together: the server clock, where the room's media should be now,
// and how to bring a player back in line (docs/playback.md, "Sync").
// Pure functions and small classes, no DOM: the bench and tests reason about
// the same rules the page runs.

export const CLOCK_SAMPLES = 8;
export const DRIFT_IGNORE_MS = 100; // under this: nothing
export const DRIFT_SEEK_MS = 2000; // beyond this: seek; between: nudge the rate
export const RATE_NUDGE_MAX = 0.05; // ±5 %
export const DRIFT_PERSIST_SAMPLES = 3; // a drift must be seen this many checks in a row

/** Local wall clock in ms that never jumps backwards (performance.now based). */
export function localNow() {
  return performance.timeOrigin + performance.now();
}

/**
 * NTP-style clock: each ping sample gives an offset (server − local) and a
 * round-trip delay; the offset of the lowest-delay sample among the last 8
 * is used (the one least distorted by queueing).
 */
export class ServerClock {
  constructor() {
    this.samples = [];
    this.offset = 0;
    this.delay = null;
  }

  /** t0: local send time, serverMs: server time in the pong, t3: local receive time. */
  add(t0, serverMs, t3) {
    const delay = t3 - t0;
    if (!(delay >= 0) || !Number.isFinite(serverMs)) return;
    this.samples.push({ offset: serverMs - (t0 + t3) / 2, delay });
    if (this.samples.length > CLOCK_SAMPLES) this.samples.shift();
    const best = this.samples.reduce((a, b) => (b.delay < a.delay ? b : a));
    this.offset = best.offset;
    this.delay = best.delay;
  }

  get synced() {
    return this.samples.length > 0;
  }

  now() {
    return localNow() + this.offset;
  }
}

/** Where the room's media is at server time `t` (ms), by the server's state. */
export function expectedPosition(state, t, endMs) {
  if (!state) return 0;
  if (state.state !== "playing") return state.position_ms;
  let position = state.position_ms + Math.max(0, t - state.at_ms) * (state.rate || 1);
  const limit = state.until_ms ?? endMs;
  if (limit != null) position = Math.min(position, Math.max(limit, state.position_ms));
  return position;
}

/**
 * Decides how to correct a playing player, given its drift (actual − expected,
 * ms). A correction happens only when the drift persists: the last
 * DRIFT_PERSIST_SAMPLES checks all agree (same side, same band).
 */
export class DriftCorrector {
  constructor() {
    this.history = [];
  }

  reset() {
    this.history = [];
  }

  /** Returns {action: "none"|"rate"|"seek", rate?: multiplier}. */
  decide(driftMs) {
    this.history.push(driftMs);
    if (this.history.length > DRIFT_PERSIST_SAMPLES) this.history.shift();
    const magnitude = Math.abs(driftMs);
    if (magnitude < DRIFT_IGNORE_MS) return { action: "none", rate: 1 };
    const persistent =
      this.history.length === DRIFT_PERSIST_SAMPLES &&
      this.history.every((d) => Math.sign(d) === Math.sign(driftMs) && Math.abs(d) >= DRIFT_IGNORE_MS);
    if (!persistent) return { action: "hold" };
    if (magnitude > DRIFT_SEEK_MS && this.history.every((d) => Math.abs(d) > DRIFT_SEEK_MS)) {
      this.reset();
      return { action: "seek" };
    }
    // Ahead (drift > 0): slow down; behind: speed up. Proportional, capped at ±5 %.
    const nudge = Math.min(RATE_NUDGE_MAX, 0.01 + magnitude / 40000);
    return { action: "rate", rate: driftMs > 0 ? 1 - nudge : 1 + nudge };
  }
}

/** "1:05" / "1:02:03" for a time in ms. */
export function clock(ms) {
  const total = Math.max(0, Math.floor((ms || 0) / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = String(total % 60).padStart(2, "0");
  return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${seconds}` : `${minutes}:${seconds}`;
}

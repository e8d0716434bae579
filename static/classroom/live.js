// The live classroom page: connects to the session's WebSocket, keeps the
// state from its snapshot and frames, and renders the learner view or the
// instructor console. Protocol: docs/realtime.md.

import { LiveConnection, newId } from "./live/connection.js";
import { ConsoleView } from "./live/console.js";
import { Announcer, refs, setText, show } from "./live/dom.js";
import { LearnerView } from "./live/learner.js";
import { applyFrame, stateFromSnapshot } from "./live/state.js";
import { renderConnection, toast } from "./live/widgets.js";

function readJson(id) {
  const element = document.getElementById(id);
  return element ? JSON.parse(element.textContent) : {};
}

function start() {
  const root = document.querySelector("[data-live-root]");
  if (!root) return;
  const config = readJson("live-config");
  const t = readJson("live-strings");
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";

  const found = refs(root);
  const app = {
    config,
    t,
    refs: found,
    announcer: new Announcer(found["sr-polite"], found["sr-assertive"]),
    /** Tell screen readers (see Announcer.say for the options). */
    say: (text, options) => app.announcer.say(text, options),
    state: null,
    view: null,
    clockOffset: 0,
    now: () => Date.now() + app.clockOffset,
    /**
     * Send an action. Resolves with {ok, data, id} or {ok: false, error, id};
     * errors are shown as a toast unless their code is in `quiet`.
     */
    async act(type, data = {}, { quiet = [], onSent } = {}) {
      const id = newId();
      onSent?.(id);
      const result = await connection.request(type, data, id);
      result.id = id;
      if (!result.ok && !quiet.includes(result.error.code)) {
        toast(app, result.error.message || t.error);
      }
      return result;
    },
  };

  const render = () => {
    if (!app.state) return;
    const { state, refs: r } = app;
    setText(r["state-badge"], t[`state_${state.session.state}`] || state.session.state);
    r["state-badge"].className = `badge badge--${state.session.state}`;
    // Attendance closes when a session ends: the count would go stale.
    const live = state.session.state === "live" || state.session.state === "scheduled";
    setText(r.present, live ? t.present.replace("{n}", String(state.present)) : "");
    root.dataset.sessionState = state.session.state;
    app.view.render();
  };

  const onFrame = (frame) => {
    if (frame.type === "snapshot") {
      app.state = stateFromSnapshot(frame.data, app.state);
      if (!app.view) {
        app.view = config.is_staff ? new ConsoleView(app) : new LearnerView(app);
        root.removeAttribute("data-loading");
        show(app.refs.loading, false);
        show(app.refs.main, true);
      }
      render();
      return;
    }
    if (!app.state) return;
    const previousState = app.state.session.state;
    const effects = applyFrame(app.state, frame);
    app.view.effects(effects);
    for (const effect of effects) {
      // (Not read back to the one who wrote it.)
      if (effect.kind === "announcement" && effect.announcement.author?.id !== app.state.me.id) {
        app.say(t.announcement_new.replace("{body}", effect.announcement.body), {
          assertive: true,
        });
      }
    }
    if (previousState !== app.state.session.state) {
      const message =
        app.state.session.state === "ended"
          ? t.session_ended
          : app.state.session.state === "live"
            ? t.session_started
            : "";
      if (message) app.say(message, { key: "session" });
    }
    render();
  };

  const connection = new LiveConnection({
    url: `${scheme}//${window.location.host}${config.ws_path}`,
    onFrame,
    onStatus: (status, detail) => {
      if (status === "fatal") app.fatalMessage = detail?.message;
      renderConnection(app, status);
      if (status === "fatal") {
        show(app.refs.loading, false);
      }
    },
    onError: (error) => toast(app, error.message || t.error),
    onClock: (offset) => {
      app.clockOffset = offset;
    },
  });
  app.connection = connection;
  // For tests and debugging: the state and the socket, read-only by convention.
  window.roundtableLive = app;

  setInterval(() => app.view?.tick(), 250);
  renderConnection(app, "connecting");
  connection.start();
}

start();

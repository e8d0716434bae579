// Roundtable media: pre-join check, publishing, receiving what the room mode
// allows, controls. Signals only over /ws/media/<session>/ (docs/media.md):
// the browser never talks to Janus's API. Mount with
//   import { mountMedia } from "/static/classroom/media/media.js";
//   mountMedia(element, { ws_path, session_id, is_staff, status });

const T = {
  off: "Audio and video are off.",
  fix: "To turn them on, run:",
  check: "Check your camera and microphone",
  join: "Join with camera and microphone",
  joinAudio: "Join with microphone only",
  camera: "Camera",
  microphone: "Microphone",
  mute: "Mute",
  unmute: "Unmute",
  cameraOff: "Stop camera",
  cameraOn: "Start camera",
  share: "Share screen",
  stopShare: "Stop sharing",
  low: "Low bandwidth",
  leave: "Leave audio and video",
  you: "You",
  mutedBy: "The instructor muted you.",
  locked: "The instructor muted you and locked your microphone.",
  record: "Record",
  pause: "Pause",
  resume: "Resume",
  stop: "Stop recording",
  recording: "Recording",
  paused: "Recording paused",
  muteUser: "Mute {name}",
  noDevice: "No camera or microphone could be opened: {error}",
  nobody: "Nobody to hear in this mode yet.",
  speaking: "speaking",
};

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) node.append(child);
  return node;
}

const SIMULCAST = [
  { rid: "l", scaleResolutionDownBy: 4, maxBitrate: 120_000 },
  { rid: "m", scaleResolutionDownBy: 2, maxBitrate: 300_000 },
  { rid: "h", maxBitrate: 600_000 },
];

export class MediaClient {
  constructor(root, config) {
    this.root = root;
    this.config = config;
    this.pending = new Map();
    this.ids = 0;
    this.tiles = new Map(); // user id → {tile, video, stream}
    this.streams = new Map(); // mid → stream info
    this.subscription = 0;
    this.subscriber = null;
    this.publisher = null;
    this.local = null;
    this.muted = { audio: false, video: false };
    this.locked = false;
    this.screen = null;
    this.render();
  }

  // --- Page --------------------------------------------------------------------

  render() {
    this.root.classList.add("media");
    const status = this.config.status || { available: true };
    // Not a live region: the page speaks through one announcer (live/dom.js Announcer).
    this.banner = el("div", { class: "media-banner", "data-ref": "media-banner", hidden: true });
    this.root.append(this.banner);
    if (!status.available) {
      this.showOff(status.reason, status.fix);
      return;
    }
    this.preview = el("video", { class: "media-preview", muted: true, playsinline: true, autoplay: true, "data-ref": "preview" });
    this.preview.muted = true;
    this.cameraSelect = el("select", { "data-ref": "camera-select", "aria-label": T.camera });
    this.micSelect = el("select", { "data-ref": "mic-select", "aria-label": T.microphone });
    this.meter = el("meter", { min: 0, max: 1, value: 0, "aria-label": T.microphone, "data-ref": "mic-meter" });
    this.joinButton = el("button", { type: "button", class: "button button--primary", "data-ref": "media-join", onclick: () => this.join(true) }, T.join);
    this.joinAudioButton = el("button", { type: "button", class: "button", onclick: () => this.join(false) }, T.joinAudio);
    this.prejoin = el(
      "section",
      { class: "media-prejoin", "aria-label": T.check, "data-ref": "media-prejoin" },
      el("h2", {}, T.check),
      this.preview,
      el("label", {}, T.camera, " ", this.cameraSelect),
      el("label", {}, T.microphone, " ", this.micSelect, " ", this.meter),
      el("p", {}, this.joinButton, " ", this.joinAudioButton),
    );
    this.grid = el("div", { class: "media-grid", "data-ref": "media-grid" });
    this.controls = el("div", { class: "media-controls", "data-ref": "media-controls", hidden: true });
    this.recordingBadge = el("span", { class: "media-recording", "data-ref": "recording-state", hidden: true });
    this.root.append(this.prejoin, this.recordingBadge, this.controls, this.grid);
    this.cameraSelect.addEventListener("change", () => this.switchDevice("video"));
    this.micSelect.addEventListener("change", () => this.switchDevice("audio"));
    this.openPreview().catch((error) => this.say(T.noDevice.replace("{error}", error.message)));
    this.connect();
  }

  showOff(reason, fix) {
    this.banner.hidden = false;
    this.banner.replaceChildren(
      el("strong", {}, reason || T.off),
      ...(fix ? [" ", T.fix, " ", el("code", { "data-ref": "media-fix" }, fix)] : []),
    );
    this.root.dataset.media = "off";
    if (this.prejoin) this.prejoin.hidden = true;
  }

  say(text) {
    this.banner.hidden = !text;
    this.banner.textContent = text || "";
    if (text) window.roundtableLive?.announcer?.say(text);
  }

  async openPreview(constraints = { audio: true, video: { width: 640, height: 480 } }) {
    const stream = await navigator.mediaDevices.getUserMedia(constraints);
    if (this.local) for (const track of this.local.getTracks()) track.stop();
    this.local = stream;
    this.preview.srcObject = stream;
    await this.listDevices();
    this.watchLevel(stream);
  }

  async listDevices() {
    const devices = await navigator.mediaDevices.enumerateDevices();
    const fill = (select, kind, track) => {
      const current = track && track.getSettings().deviceId;
      select.replaceChildren(
        ...devices.filter((d) => d.kind === kind).map((d, index) =>
          el("option", { value: d.deviceId, selected: d.deviceId === current }, d.label || `${kind} ${index + 1}`)),
      );
    };
    fill(this.cameraSelect, "videoinput", this.local && this.local.getVideoTracks()[0]);
    fill(this.micSelect, "audioinput", this.local && this.local.getAudioTracks()[0]);
  }

  watchLevel(stream) {
    if (!stream.getAudioTracks().length) return;
    const context = new AudioContext();
    const analyser = context.createAnalyser();
    context.createMediaStreamSource(stream).connect(analyser);
    const data = new Uint8Array(analyser.fftSize);
    const tick = () => {
      analyser.getByteTimeDomainData(data);
      let peak = 0;
      for (const value of data) peak = Math.max(peak, Math.abs(value - 128) / 128);
      this.meter.value = peak;
      if (this.local === stream) requestAnimationFrame(tick);
      else context.close();
    };
    tick();
  }

  async switchDevice(kind) {
    const select = kind === "video" ? this.cameraSelect : this.micSelect;
    const fresh = await navigator.mediaDevices.getUserMedia({ [kind]: { deviceId: { exact: select.value } } });
    const track = fresh.getTracks()[0];
    const old = this.local[kind === "video" ? "getVideoTracks" : "getAudioTracks"]()[0];
    if (old) { this.local.removeTrack(old); old.stop(); }
    this.local.addTrack(track);
    track.enabled = !this.muted[kind];
    const sender = this.publisher && this.publisher.getSenders().find((s) => s.track && s.track.kind === kind);
    if (sender) await sender.replaceTrack(track); // no renegotiation: the publisher stays
    if (kind === "audio") this.watchLevel(this.local);
  }

  // --- Signalling ----------------------------------------------------------------

  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.socket = new WebSocket(`${scheme}://${location.host}${this.config.ws_path}`);
    this.root.dataset.media = "connecting";
    this.socket.addEventListener("message", (event) => this.onFrame(JSON.parse(event.data)));
    this.socket.addEventListener("close", () => {
      for (const { reject } of this.pending.values()) reject(new Error("disconnected"));
      this.pending.clear();
      if (this.root.dataset.media === "off" || this.leaving) return;
      // Daphne restarted or the network dropped: the server ended our Janus
      // session, so both PeerConnections are dead. Reconnect and publish again.
      this.root.dataset.media = "reconnecting";
      for (const pc of [this.publisher, this.subscriber]) if (pc) pc.close();
      this.publisher = this.subscriber = null;
      this.syncTiles([]);
      this.retries = (this.retries || 0) + 1;
      setTimeout(() => this.connect(), Math.min(30_000, 2000 * this.retries));
    });
  }

  request(type, data = {}) {
    const id = `m${++this.ids}`;
    this.socket.send(JSON.stringify({ type, id, data }));
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }

  onFrame(frame) {
    const waiting = frame.id && this.pending.get(frame.id);
    if (waiting) {
      this.pending.delete(frame.id);
      if (frame.type === "error") waiting.reject(Object.assign(new Error(frame.data.message), frame.data));
      else waiting.resolve(frame.data);
      return;
    }
    const data = frame.data || {};
    switch (frame.type) {
      case "media.config":
        this.me = data;
        this.iceServers = data.ice_servers || [];
        this.root.dataset.media = "ready";
        this.retries = 0;
        this.say("");
        if (!data.may_publish) this.joinButton.hidden = this.joinAudioButton.hidden = true;
        if (data.mute_locked) this.locked = true;
        this.showRecording(data.recording);
        if (data.is_staff && !this.recordingControls) this.renderStaffControls();
        if (this.prejoin && !this.joined) this.prejoin.hidden = false; // media is back before joining
        if (this.joined && !this.publisher) this.publish().catch((error) => this.say(error.message));
        break;
      case "media.unavailable":
        this.showOff(data.reason, data.fix);
        // Janus went away (or is not up yet): our PeerConnections are dead.
        // The server rejoins Janus by itself (`retrying`) and sends
        // media.config again on this socket; then we publish again.
        for (const pc of [this.publisher, this.subscriber]) if (pc) pc.close();
        this.publisher = this.subscriber = null;
        this.root.dataset.publisher = this.root.dataset.subscriber = "closed"; // close() fires no event
        this.syncTiles([]);
        if (this.joined && !this.leaving) {
          this.root.dataset.media = "reconnecting";
          if (!data.retrying) this.socket.close(); // a server that does not rejoin: reconnect
        }
        break;
      case "media.offer":
        this.onOffer(data).catch((error) => console.error("media offer", error));
        break;
      case "media.speaking": {
        const tile = this.tiles.get(data.user_id);
        if (tile) {
          tile.tile.classList.toggle("is-speaking", data.speaking);
          tile.speaking.hidden = !data.speaking;
        }
        break;
      }
      case "media.muted":
        this.locked = data.locked;
        if (data.audio) this.setMuted("audio", true, false);
        this.say(data.locked ? T.locked : data.audio ? T.mutedBy : "");
        this.renderControls();
        break;
      case "media.recording":
        this.showRecording(data);
        break;
      case "error":
        this.say(data.message);
        break;
    }
  }

  // --- Publishing ------------------------------------------------------------------

  async join(withVideo) {
    if (!this.local) await this.openPreview({ audio: true, video: withVideo });
    if (!withVideo) for (const track of this.local.getVideoTracks()) { track.stop(); this.local.removeTrack(track); }
    await this.publish();
    this.joined = true;
    this.prejoin.hidden = true;
    this.controls.hidden = false;
    this.selfTile();
    this.renderControls();
  }

  async publish() {
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    this.publisher = pc;
    const audio = this.local.getAudioTracks()[0];
    const video = this.local.getVideoTracks()[0];
    if (audio) pc.addTransceiver(audio, { direction: "sendonly", streams: [this.local] });
    if (video) {
      const simulcast = (video.getSettings().height || 0) >= 360;
      pc.addTransceiver(video, { direction: "sendonly", streams: [this.local], sendEncodings: simulcast ? SIMULCAST : undefined });
    }
    const queued = [];
    let ready = false;
    pc.onicecandidate = ({ candidate }) => {
      const item = candidate ? candidate.toJSON() : { completed: true };
      if (ready) this.request("trickle", { pc: "publisher", candidate: item }).catch(() => {});
      else queued.push(item);
    };
    pc.onconnectionstatechange = () => { this.root.dataset.publisher = pc.connectionState; };
    await pc.setLocalDescription(await pc.createOffer());
    const reply = await this.request("publish", { jsep: { type: "offer", sdp: pc.localDescription.sdp } });
    await pc.setRemoteDescription(reply.jsep);
    ready = true;
    for (const item of queued) this.request("trickle", { pc: "publisher", candidate: item }).catch(() => {});
    if (reply.mute_locked) { this.locked = true; this.setMuted("audio", true, false); }
    for (const kind of ["audio", "video"]) if (this.muted[kind]) this.request("mute", { [kind]: true }).catch(() => {});
  }

  selfTile() {
    const video = el("video", { muted: true, playsinline: true, autoplay: true, "data-ref": "self-video" });
    video.muted = true;
    video.srcObject = this.local;
    this.grid.prepend(el("figure", { class: "media-tile media-tile--self", "data-user-id": this.me.user_id }, video, el("figcaption", {}, T.you)));
  }

  setMuted(kind, muted, tellServer = true) {
    this.muted[kind] = muted;
    for (const track of this.local ? this.local.getTracks() : []) if (track.kind === kind) track.enabled = !muted;
    if (tellServer) return this.request("mute", { [kind]: muted }).catch((error) => {
      this.say(error.message);
      this.muted[kind] = true;
      for (const track of this.local.getTracks()) if (track.kind === kind) track.enabled = false;
      this.renderControls();
    });
  }

  renderControls() {
    const button = (label, onclick, ref, pressed) =>
      el("button", { type: "button", class: "button", onclick, "data-ref": ref, "aria-pressed": pressed === undefined ? undefined : String(pressed) }, label);
    const items = [
      button(this.muted.audio ? T.unmute : T.mute, async () => { await this.setMuted("audio", !this.muted.audio); this.renderControls(); }, "mute", this.muted.audio),
      button(this.muted.video ? T.cameraOn : T.cameraOff, async () => { await this.setMuted("video", !this.muted.video); this.renderControls(); }, "camera", this.muted.video),
      button(T.low, async () => { this.low = !this.low; await this.request("quality", { low: this.low }); this.renderControls(); }, "low-bandwidth", !!this.low),
    ];
    if (this.me && this.me.is_staff) items.push(button(this.screen ? T.stopShare : T.share, () => this.toggleScreen(), "screen-share", !!this.screen));
    items.push(button(T.leave, () => this.leave(), "leave"));
    if (this.locked) items[0].disabled = true;
    this.controls.replaceChildren(...items);
  }

  async toggleScreen() {
    // The screen replaces the camera on the same publisher: whoever hears this
    // staff member now (everyone in lecture, one table when visiting) sees it.
    const sender = this.publisher.getSenders().find((s) => s.track && s.track.kind === "video");
    if (!sender) return;
    if (this.screen) {
      for (const track of this.screen.getTracks()) track.stop();
      this.screen = null;
      await sender.replaceTrack(this.local.getVideoTracks()[0]);
    } else {
      this.screen = await navigator.mediaDevices.getDisplayMedia({ video: true });
      const track = this.screen.getVideoTracks()[0];
      track.addEventListener("ended", () => { if (this.screen) this.toggleScreen(); });
      await sender.replaceTrack(track);
    }
    this.renderControls();
  }

  leave() {
    this.leaving = true;
    this.joined = false;
    this.request("leave").catch(() => {});
    for (const pc of [this.publisher, this.subscriber]) if (pc) pc.close();
    for (const track of this.local ? this.local.getTracks() : []) track.stop();
    this.grid.replaceChildren();
    this.controls.hidden = true;
  }

  // --- Receiving ---------------------------------------------------------------------

  async onOffer(data) {
    if (data.closed) {
      if (this.subscriber) this.subscriber.close();
      this.subscriber = null;
      this.syncTiles([]);
      return;
    }
    if (!this.subscriber || data.subscription !== this.subscription) {
      if (this.subscriber) this.subscriber.close();
      this.subscription = data.subscription;
      const pc = new RTCPeerConnection({ iceServers: this.iceServers });
      this.subscriber = pc;
      pc.ontrack = (event) => this.onTrack(event);
      pc.onicecandidate = ({ candidate }) => {
        this.request("trickle", { pc: "subscriber", candidate: candidate ? candidate.toJSON() : { completed: true } }).catch(() => {});
      };
      pc.onconnectionstatechange = () => { this.root.dataset.subscriber = pc.connectionState; };
    }
    const pc = this.subscriber;
    this.streams = new Map(data.streams.map((s) => [String(s.mid), s]));
    await pc.setRemoteDescription(data.jsep);
    await pc.setLocalDescription(await pc.createAnswer());
    await this.request("answer", { subscription: data.subscription, jsep: { type: "answer", sdp: pc.localDescription.sdp } });
    // Tracks of m-lines that were re-used for someone else follow the new mapping.
    for (const transceiver of pc.getTransceivers()) {
      if (transceiver.receiver.track && this.streams.has(String(transceiver.mid))) this.attach(transceiver.mid, transceiver.receiver.track);
    }
    this.syncTiles([...this.streams.values()].filter((s) => s.active !== false && s.user_id));
  }

  onTrack(event) {
    this.attach(event.transceiver.mid, event.track);
  }

  attach(mid, track) {
    const info = this.streams.get(String(mid));
    if (!info || !info.user_id) return;
    const entry = this.tile(info.user_id, info.name);
    for (const old of entry.stream.getTracks()) if (old.kind === track.kind && old !== track) entry.stream.removeTrack(old);
    if (!entry.stream.getTracks().includes(track)) entry.stream.addTrack(track);
    if (entry.video.srcObject !== entry.stream) entry.video.srcObject = entry.stream;
    entry.video.play().catch(() => {});
  }

  tile(userId, name) {
    let entry = this.tiles.get(userId);
    if (entry) return entry;
    const video = el("video", { playsinline: true, autoplay: true, "data-ref": "remote-video" });
    const stream = new MediaStream();
    // Who is speaking shows in words as well as by the tile's ring (not by colour alone).
    const speaking = el("span", { class: "media-tile__speaking", hidden: true }, ` · ${T.speaking}`);
    const figure = el("figure", { class: "media-tile", "data-user-id": userId }, video, el("figcaption", {}, name || "", speaking));
    if (this.me && this.me.is_staff) {
      figure.append(el("button", { type: "button", class: "button button--small", "data-ref": "staff-mute",
        onclick: () => this.request("staff.mute", { user_id: userId, lock: false }) }, T.muteUser.replace("{name}", name || "")));
    }
    this.grid.append(figure);
    entry = { tile: figure, video, stream, speaking };
    this.tiles.set(userId, entry);
    return entry;
  }

  syncTiles(active) {
    const keep = new Set(active.map((s) => s.user_id));
    for (const [userId, entry] of this.tiles) {
      if (!keep.has(userId)) { entry.tile.remove(); this.tiles.delete(userId); }
    }
    for (const info of active) this.tile(info.user_id, info.name);
    this.root.dataset.receiving = String(keep.size);
  }

  // --- Staff: recording --------------------------------------------------------------

  renderStaffControls() {
    this.recordingControls = el("div", { class: "media-recording-controls", "data-ref": "recording-controls" });
    this.root.insertBefore(this.recordingControls, this.controls);
    this.showRecording(this.recordingState || { state: "off" });
  }

  showRecording(data) {
    if (!data) return;
    this.recordingState = data;
    this.recordingBadge.hidden = data.state === "off";
    this.recordingBadge.textContent = data.state === "paused" ? T.paused : T.recording;
    if (!this.recordingControls) return;
    const action = (label, name) => el("button", { type: "button", class: "button", "data-ref": `recording-${name}`,
      onclick: () => this.request("recording", { action: name }).catch((error) => this.say(error.message)) }, label);
    const buttons = data.state === "off" ? [action(T.record, "start")]
      : data.state === "paused" ? [action(T.resume, "resume"), action(T.stop, "stop")]
      : [action(T.pause, "pause"), action(T.stop, "stop")];
    this.recordingControls.replaceChildren(...buttons);
  }
}

export function mountMedia(root, config) {
  return new MediaClient(root, config);
}

const auto = document.querySelector("[data-media-root]");
if (auto) {
  const config = JSON.parse(document.getElementById("media-config").textContent);
  window.roundtableMedia = mountMedia(auto, config);
}

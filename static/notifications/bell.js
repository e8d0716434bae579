// The header bell (templates/notifications/_bell.html): the unread count,
// kept live over the user's notification socket (docs/realtime.md,
// "Notification socket"); new ones are announced politely to screen readers.
// Other scripts of the page hear every frame as a `roundtable:notification`
// DOM event (the notifications page marks rows read with it).

import { RoomSocket, newId } from "../core/room_connection.js";

const PING_MS = 25_000;

class NotificationSocket extends RoomSocket {
  socketUrl(resume) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    return `${scheme}://${location.host}${this.url}${resume == null ? "" : `?seq=${resume}`}`;
  }

  opened() {
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      this.raw({ type: "ping", id: newId(), data: { seq: this.seq } });
    }, PING_MS);
  }
}

function start(root) {
  const badge = root.querySelector("[data-bell-badge]");
  const label = root.querySelector("[data-bell-label]");
  const live = root.querySelector("[data-bell-live]");
  const link = root.querySelector("[data-bell-link]");
  if (document.querySelector("[data-live-root]")) {
    // The live classroom has one voice for screen readers (its announcer): the
    // bell speaks through it there, not through a live region of its own.
    live.removeAttribute("role");
    live.removeAttribute("aria-live");
  }

  function setCount(count) {
    badge.textContent = count > 99 ? "99+" : String(count);
    badge.hidden = count === 0;
    label.textContent = `Notifications, ${count} unread`;
    link.dataset.unread = String(count);
  }

  function announce(text) {
    // On the live classroom the page has one voice (its announcer): use it.
    const page = window.roundtableLive?.announcer;
    if (page) {
      page.say(text);
      return;
    }
    // Clear first so the same text twice is announced twice.
    live.textContent = "";
    setTimeout(() => {
      live.textContent = text;
    }, 50);
  }

  const socket = new NotificationSocket({
    url: `/ws/notifications/${root.dataset.userId}/`,
    onFrame(frame) {
      const data = frame.data || {};
      if (typeof data.unread_count === "number") setCount(data.unread_count);
      if (frame.type === "notification.created") {
        announce(`New notification: ${data.notification.title}`);
      }
      document.dispatchEvent(new CustomEvent("roundtable:notification", { detail: frame }));
    },
    onStatus(status) {
      root.dataset.status = status;
    },
    onError() {},
  });
  socket.start();
}

const root = document.querySelector(".bell[data-user-id]");
if (root) start(root);

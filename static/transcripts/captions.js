// Captions on the playback player: a CC button among the player's controls
// (also Shift+C: the player keeps "c" for the comment box) that shows or
// hides the <track kind="captions"> the page carries; for audio-only
// recordings the current caption is written into a box over the player
// (browsers draw tracks on <video> only).
const root = document.querySelector("[data-pb-root]");
const media = root && root.querySelector("[data-ref=media]");
const track = media && media.querySelector("track[kind=captions]");
if (media && track) {
  // The name holds the visible "CC"; aria-pressed says whether they show.
  const strings = { name: "CC (captions)", on: "Captions are on", off: "Captions are off" };
  const text = media.textTracks[0];
  const isAudio = media.tagName === "AUDIO";
  let box = null;
  if (isAudio) {
    box = document.createElement("p");
    box.className = "tr-audio-caption";
    box.setAttribute("aria-hidden", "true"); // the transcript is the accessible text
    root.querySelector("[data-ref=screen]").appendChild(box);
  }
  const button = document.createElement("button");
  button.type = "button";
  button.className = "pb-btn tr-cc";
  button.textContent = "CC";
  button.setAttribute("aria-keyshortcuts", "Shift+C");
  const controls = root.querySelector(".pb-controls");
  const mute = controls.querySelector("[data-ref=mute]");
  controls.insertBefore(button, mute);

  function render() {
    const on = isAudio ? text.__on === true : text.mode === "showing";
    button.setAttribute("aria-pressed", on ? "true" : "false");
    button.setAttribute("aria-label", strings.name);
    button.title = on ? strings.on : strings.off;
    if (box) {
      const cue = on && text.activeCues && text.activeCues[0];
      box.textContent = cue ? cue.text.replace(/<[^>]+>/g, "") : "";
      box.hidden = !box.textContent;
    }
  }
  function set(on) {
    if (isAudio) {
      text.__on = on;
      text.mode = "hidden"; // cues still fire; we draw them
    } else {
      text.mode = on ? "showing" : "hidden";
    }
    render();
  }
  set(track.hasAttribute("default"));
  text.addEventListener("cuechange", render);
  button.addEventListener("click", () => set(!(isAudio ? text.__on : text.mode === "showing")));
  document.addEventListener("keydown", (event) => {
    if (event.key !== "C" || !event.shiftKey || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
    button.click();
  });
}

// The review page works as plain forms; this adds focus management and
// number keys (1-9) to pick an option. Nothing here knows the right answer.
const first = document.querySelector("[data-autofocus]");
if (first) first.focus({ preventScroll: false });

const options = [...document.querySelectorAll(".review-option input")];
document.addEventListener("keydown", (event) => {
  if (event.altKey || event.ctrlKey || event.metaKey) return;
  const target = event.target;
  if (target instanceof HTMLInputElement && (target.type === "text" || target.type === "number")) return;
  if (target instanceof HTMLTextAreaElement) return;
  const index = Number.parseInt(event.key, 10);
  if (Number.isInteger(index) && index >= 1 && index <= options.length) {
    const input = options[index - 1];
    input.checked = input.type === "checkbox" ? !input.checked : true;
    input.focus();
    event.preventDefault();
  }
});

// Quick exit: leave for a neutral site and replace this page in the history, so Back does not return.
//
// Esc leaves at once, except while typing in a text field: there one Esc also closes an input method's
// suggestions or a browser's autofill, so a stray one must not end a conversation and lose what was being
// written. In a text field Esc pressed twice within a second leaves (the first one says so on the button).
// Before leaving, the page is told ("helpline:quick-exit") so a chat can end itself for this tab at once.
const link = document.getElementById("quick-exit");
const SECOND_ESC_MS = 1000;
let firstEscAt = 0;

function leave(event) {
  if (event) event.preventDefault();
  const target = link.dataset.exitUrl;
  // Hide the page at once, before the next site starts loading.
  document.documentElement.style.visibility = "hidden";
  document.title = "";
  document.dispatchEvent(new CustomEvent("helpline:quick-exit"));
  window.location.replace(target);
}

function typingInto(element) {
  return Boolean(element) && (element.isContentEditable || element.matches("textarea, input:not([type=checkbox]):not([type=radio]):not([type=button]):not([type=submit])"));
}

if (link) {
  link.addEventListener("click", leave);
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || event.defaultPrevented || event.isComposing) return;
    if (!typingInto(document.activeElement)) {
      leave(event);
      return;
    }
    const now = Date.now();
    if (now - firstEscAt <= SECOND_ESC_MS) {
      leave(event);
      return;
    }
    firstEscAt = now;
    link.dataset.armed = "true";
    window.setTimeout(() => delete link.dataset.armed, SECOND_ESC_MS);
  });
}

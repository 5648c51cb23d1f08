// "How are you doing now?": the self-check page compares a new result with the earlier one this browser kept.
// The earlier result never leaves the device: it lives in the one self-help key (helpline.selfhelp.v1, field
// "selfcheck", so "wipe everything" removes it), only if the visitor asked to keep it. The only thing ever sent
// is the change, "better", "same" or "worse", as an anonymous count, and only if the visitor asks for that too.
const STORE_KEY = "helpline.selfhelp.v1";
const FIELD = "selfcheck";

function readStore() {
  try {
    const parsed = JSON.parse(window.localStorage.getItem(STORE_KEY) || "null");
    return parsed && typeof parsed === "object" ? parsed : {};
  } catch (error) {
    return {};
  }
}

export function earlierResult() {
  const kept = readStore()[FIELD];
  return kept && typeof kept.band === "string" && typeof kept.day === "string" ? kept : null;
}

function keepResult(band, day) {
  // Read again just before writing, and touch only our own field: the rest of the key is the self-help script's.
  const store = readStore();
  store[FIELD] = { band, day };
  try {
    window.localStorage.setItem(STORE_KEY, JSON.stringify(store));
    return true;
  } catch (error) {
    return false;
  }
}

export function localDay(date = new Date()) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

// Bands from the fewest worries to the most: by their minimum score, and "talk-now" (forced by one answer) last.
export function bandOrder(bands) {
  const ordered = [...bands].sort((a, b) => a[1] - b[1]).map(([name]) => name);
  return [...ordered.filter((name) => name !== "talk-now"), "talk-now"];
}

export function changeBetween(order, earlier, now) {
  const before = order.indexOf(earlier);
  const after = order.indexOf(now);
  if (before < 0 || after < 0) return null;
  if (after < before) return "better";
  return after > before ? "worse" : "same";
}

function countChange(change) {
  fetch("/count/", { method: "POST", body: JSON.stringify({ metric: "selfhelp.return_check", dimension: change }),
    headers: { "Content-Type": "application/json" }, credentials: "omit", keepalive: true, cache: "no-store",
    referrerPolicy: "no-referrer" }).catch(() => {});
}

function showAfterResult(panel, order, band) {
  const earlier = earlierResult();
  const change = earlier ? changeBetween(order, earlier.band, band) : null;
  const compare = panel.querySelector("[data-compare]");
  if (change) {
    compare.querySelectorAll("[data-change]").forEach((node) => { node.hidden = node.dataset.change !== change; });
    const button = compare.querySelector("[data-count-change]");
    button.addEventListener("click", () => {
      countChange(change);
      button.disabled = true;
      compare.querySelector("[data-counted]").hidden = false;
    }, { once: true });
    compare.hidden = false;
  }
  const remember = panel.querySelector("[data-remember]");
  remember.querySelector(earlier ? "[data-first]" : "[data-again]").hidden = true;
  remember.querySelector("button").addEventListener("click", (event) => {
    const done = keepResult(band, localDay());
    event.currentTarget.disabled = true;
    remember.querySelector(done ? "[data-kept]" : "[data-not-kept]").hidden = false;
  }, { once: true });
  remember.hidden = false;
  panel.hidden = false;
}

function setup() {
  const intro = document.getElementById("return-check-intro");
  const panel = document.getElementById("return-check-after");
  const dataNode = document.getElementById("selfcheck-data");
  if (!panel) return;
  const order = bandOrder(dataNode ? JSON.parse(dataNode.textContent).bands : []);
  const earlier = earlierResult();
  if (intro && earlier && earlier.day !== localDay()) intro.hidden = false;
  const shownByServer = document.querySelector("[data-result-band]");
  if (shownByServer) {
    showAfterResult(panel, order, shownByServer.dataset.resultBand);
    return;
  }
  const form = document.querySelector("[data-selfcheck-form]");
  if (!form) return;
  // Registered after the self-help script's own handler, which scores the answers and shows the result.
  form.addEventListener("submit", (event) => {
    if (!event.defaultPrevented) return; // not scored in the page: the server answers instead
    const shown = document.querySelector("#selfcheck-result [data-band-text]:not([hidden])");
    if (!shown) return;
    if (intro) intro.hidden = true;
    showAfterResult(panel, order, shown.dataset.bandText);
  });
}

if (typeof document !== "undefined") setup();

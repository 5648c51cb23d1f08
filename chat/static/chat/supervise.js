// The supervision page: polls the figures (numbers only) every few seconds and updates them in place.
import { format, loadStrings, timeOfDay } from "./ui.js";

const POLL_MS = 5000;
const S = loadStrings("chat-strings");
const root = document.getElementById("supervision");
const set = (id, text) => {
  document.getElementById(id).textContent = String(text);
};
const list = (values, template, name) => (values.length ? values.map((value) => format(template, { [name]: value })).join(", ") : S.none);

async function refresh() {
  try {
    const response = await fetch(root.dataset.url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(String(response.status));
    const figures = await response.json();
    set("fig-queue", figures.queue_length);
    set("fig-longest", figures.longest_wait);
    set("fig-active", figures.active_chats);
    set("fig-online", figures.counsellors_online);
    set("fig-available", figures.counsellors_available);
    set("fig-open", figures.open ? S.open : S.closed);
    set("fig-waits", list(figures.waits, S.minutes, "minutes"));
    set("fig-load", list(figures.load, S.chats, "chats"));
    set("fig-updated", format(S.updated, { time: timeOfDay() }));
  } catch (error) {
    set("fig-updated", S.unavailable);
  }
}

if (root) window.setInterval(refresh, POLL_MS);

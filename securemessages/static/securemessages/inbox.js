// The counsellors' secure-message inbox: the device's encryption key, the list of threads, reading (decrypted
// here), answering (signed by the device key, sealed to the visitor's mailbox and the whole team), closing with
// a wrap-up, and sharing older messages with colleagues' devices that were certified after they were written.
//
// The device key is the one the chat console made (chat/device-store.js). The inbox adds an ECDH key for
// secure messages, vouched for by a signature of the certified device key (docs/mailbox.md §5). Every device a
// message is sealed or shared to is checked against the organisation key pinned in this page.
import { b64d, encodeMessage, MAX_PLAINTEXT_BYTES } from "../chat/protocol.js";
import { loadDevice } from "../chat/device-store.js";
import { ensureEncryptionKey } from "../chat/device-ek.js";
import { RequestFailed, requestJson } from "./http.js";
import { el, format, hasWebCrypto, loadStrings, show } from "../chat/ui.js";
import {
  buildEnvelope,
  checkMessageSender,
  openEnvelope,
  unwrapContentKey,
  verifiedTeam,
  VISITOR,
  wrapContentKey,
} from "./mailbox.js";

const S = loadStrings("inbox-strings");
const CANNED = loadStrings("inbox-canned-responses");
const $ = (id) => document.getElementById(id);
const root = $("inbox");
const lang = root.dataset.lang || "en";
const state = { device: null, orgKey: null, thread: null, busy: false };

const request = (method, path, body) => requestJson(method, path, body, { csrf: root.dataset.csrf, networkMessage: S.network });

const status = (id, text) => { $(id).textContent = text || ""; };
const failed = (error) => (error instanceof RequestFailed && error.status === 0 ? S.network : format(S.failed, { message: error.message }));

// --- the device and its encryption key -------------------------------------------------------------------

async function readyDevice() {
  const record = await loadDevice(root.dataset.user).catch(() => null);
  if (!record) return status("inbox-device-status", S.no_device);
  const info = await request("GET", `/chat/device/${encodeURIComponent(record.device)}/`).catch(() => null);
  if (!info || info.status !== "certified" || !info.cert || info.cert.key !== record.publicKey) {
    return status("inbox-device-status", info && info.status === "pending" ? S.device_waiting : S.no_device);
  }
  let current;
  try {
    current = await ensureEncryptionKey(record, request);
  } catch (error) {
    return status("inbox-device-status", S.device_failed);
  }
  state.device = { ...current, cert: info.cert, ekRaw: b64d(current.encryptionPublic) };
  status("inbox-device-status", format(S.device_ready, { name: info.cert.pseudonym }));
  return state.device;
}

async function team() {
  const { devices } = await request("GET", "/mailbox/team/");
  return verifiedTeam(devices, state.orgKey);
}

// --- the list ---------------------------------------------------------------------------------------------------

const ORDER = { new: 0, waiting: 1, answered: 2, closed: 3 };

function ageText(days) {
  if (!days) return S.age_today;
  return days === 1 ? S.age_one : format(S.age, { days });
}

async function showList() {
  show($("inbox-thread"), false);
  show($("inbox-list-section"));
  const { threads } = await request("GET", "/mailbox/staff/threads/");
  threads.sort((a, b) => ORDER[a.state] - ORDER[b.state] || b.age_days - a.age_days);
  const list = $("inbox-list");
  list.replaceChildren();
  if (!threads.length) list.append(el("li", { text: S.empty }));
  for (const thread of threads) {
    const age = ageText(thread.age_days);
    const open = el("button", { type: "button", className: "secondary", text: S.open });
    open.addEventListener("click", () => openThread(thread.thread));
    list.append(el("li", { "data-thread": thread.thread, "data-state": thread.state },
      el("span", { className: "inbox-state", text: S[`state_${thread.state}`] }),
      el("span", { text: thread.lang.toUpperCase() }), el("span", { text: age }),
      el("span", { text: thread.messages === 1 ? S.messages_one : format(S.messages, { count: thread.messages }) }), open));
  }
  return threads;
}

// --- sharing older messages with devices certified later -------------------------------------------------------

async function shareThread(detail, members) {
  const byDevice = new Map(members.map((member) => [member.device, member]));
  const keys = {};
  let count = 0;
  for (const message of detail.messages) {
    const missing = (message.unshared || []).filter((device) => byDevice.has(device));
    if (!message.key || !missing.length) continue;
    const contentKey = await unwrapContentKey(state.device.encryptionKey, state.device.ekRaw, message.key,
      detail.thread, message.id, state.device.device).catch(() => null);
    if (!contentKey) continue;
    keys[message.id] = {};
    for (const device of missing) {
      keys[message.id][device] = await wrapContentKey(contentKey, byDevice.get(device).ekRaw, detail.thread, message.id, device);
      count += 1;
    }
    contentKey.fill(0);
  }
  if (count) await request("POST", `/mailbox/staff/threads/${encodeURIComponent(detail.thread)}/keys/`, { keys });
  return count;
}

async function shareAll(threads) {
  const waiting = threads.filter((thread) => thread.unshared > 0);
  if (!waiting.length) return;
  const members = await team();
  let shared = 0;
  for (const thread of waiting) {
    shared += await shareThread(await fetchThread(thread.thread), members).catch(() => 0);
  }
  if (shared) status("inbox-status", format(S.shared, { count: shared }));
}

// --- one thread ---------------------------------------------------------------------------------------------------

function fetchThread(threadId) {
  return request("GET", `/mailbox/staff/threads/${encodeURIComponent(threadId)}/?device=${encodeURIComponent(state.device.device)}`);
}

function dayLabel(isoDay) {
  const [year, month, day] = isoDay.split("-").map(Number);
  return new Date(Date.UTC(year, month - 1, day)).toLocaleDateString(lang, { day: "numeric", month: "long", timeZone: "UTC" });
}

async function openThread(threadId) {
  const detail = await fetchThread(threadId);
  state.thread = detail;
  const log = $("inbox-log");
  log.replaceChildren();
  for (const message of detail.messages) {
    const sender = await checkMessageSender(message, detail.thread, detail.sk, state.orgKey);
    let body;
    if (!message.key) body = S.no_key;
    else if (!sender.ok) body = S.unverified;
    else {
      body = await openEnvelope(message, detail.thread, state.device.device, state.device.encryptionKey, state.device.ekRaw)
        .then((opened) => String(opened.body ?? "")).catch(() => S.unreadable);
    }
    const who = message.from === VISITOR ? S.visitor : format(S.counsellor, { name: sender.pseudonym });
    log.append(el("div", { className: `chat-line ${message.from === VISITOR ? "from-them" : "from-me"}` },
      el("span", { className: "who", text: sender.ok ? who : "" }), " ", el("span", { className: "day", text: dayLabel(message.day) }),
      el("p", { className: "body", text: body })));
  }
  $("inbox-thread-heading").textContent = `${S[`state_${detail.state}`]} · ${detail.lang.toUpperCase()} · ${ageText(detail.age_days)}`;
  renderCanned(detail.lang);
  show($("inbox-wrapup"), false);
  show($("inbox-reply-form"));
  show($("inbox-list-section"), false);
  show($("inbox-thread"));
  $("inbox-thread-heading").focus();
}

function renderCanned(threadLang) {
  const box = $("inbox-canned");
  box.replaceChildren();
  for (const canned of CANNED[threadLang] || []) {
    const button = el("button", { type: "button", className: "secondary", text: canned.title });
    button.addEventListener("click", () => {
      const input = $("inbox-reply-text");
      input.value = input.value ? `${input.value}\n${canned.text}` : canned.text;
      input.focus();
    });
    box.append(button);
  }
}

async function sendAnswer(event) {
  event.preventDefault();
  const text = $("inbox-reply-text").value.trim();
  if (!text || state.busy || !state.thread) return;
  if (encodeMessage({ t: "text", body: text }).length > MAX_PLAINTEXT_BYTES) return;
  state.busy = true;
  $("inbox-reply-send").disabled = true;
  try {
    const members = await team();
    const recipients = new Map([["mailbox", b64d(state.thread.mk)], ...members.map((m) => [m.device, m.ekRaw])]);
    const msg = await buildEnvelope(state.thread.thread, state.device.device, state.device.privateKey, { t: "text", body: text }, recipients);
    await request("POST", `/mailbox/staff/threads/${encodeURIComponent(state.thread.thread)}/reply/`, { msg });
    $("inbox-reply-text").value = "";
    await openThread(state.thread.thread);
    status("inbox-reply-status", S.sent);
  } catch (error) {
    status("inbox-reply-status", failed(error));
  } finally {
    state.busy = false;
    $("inbox-reply-send").disabled = false;
  }
}

function wrapupCodes(form) {
  const wrapup = {};
  for (const category of ["contact", "concern", "action"]) {
    const chosen = [...form.querySelectorAll(`input[name=${category}]:checked`)].map((input) => input.value);
    if (chosen.length) wrapup[category] = category === "contact" ? chosen[0] : chosen;
  }
  return wrapup;
}

async function closeThread(event) {
  event.preventDefault();
  try {
    await request("POST", `/mailbox/staff/threads/${encodeURIComponent(state.thread.thread)}/close/`, { wrapup: wrapupCodes($("inbox-wrapup")) });
    status("inbox-status", S.closed);
    await showList();
  } catch (error) {
    status("inbox-reply-status", failed(error));
  }
}

// --- start ---------------------------------------------------------------------------------------------------------

async function start() {
  if (!hasWebCrypto() || !window.indexedDB) return status("inbox-device-status", S.no_webcrypto);
  const link = $("org-key-module");
  if (!link) return status("inbox-device-status", S.no_device);
  state.orgKey = (await import(link.href)).ORG_PUBLIC_KEY;
  if (!(await readyDevice())) return;
  $("inbox-reply-form").addEventListener("submit", sendAnswer);
  $("inbox-back").addEventListener("click", () => showList().catch((error) => status("inbox-status", failed(error))));
  $("inbox-close-open").addEventListener("click", () => {
    show($("inbox-reply-form"), false);
    show($("inbox-wrapup"));
  });
  $("inbox-close-cancel").addEventListener("click", () => {
    show($("inbox-wrapup"), false);
    show($("inbox-reply-form"));
  });
  $("inbox-wrapup").addEventListener("submit", closeThread);
  const threads = await showList();
  await shareAll(threads);
}

start().catch((error) => status("inbox-status", failed(error)));

// The counsellor console: device enrolment, availability, the live queue, offers, chats in tabs, hand-over, wrap-up.
//
// The device key is an ECDSA P-256 key made here, non-extractable, kept in this browser's IndexedDB; the
// server only ever sees its public half and stores the organisation's certificate for it. Chat keys are
// made per epoch, in memory, and dropped when the chat ends. The server routes chats: while this console
// is available it is offered chats as `rekey` frames, answered with a signed `accept`.
//
// What a reload must not lose lives in this browser only: each held chat's transcript (lines, delivery states, the
// pinned visitor identity key, its language, a wrap-up token) in an encrypted IndexedDB store wiped at sign-out
// (transcript-store.js), and the Available / Sound / notification ticks in this tab's sessionStorage. When the
// socket comes back the server hands this person's chats back as rekeys, answered at once (docs/protocol.md §7).
import {
  b64d,
  b64e,
  encodeMessage,
  generateChatKeyPair,
  generateDeviceKeyPair,
  MAX_BUNDLE_PLAINTEXT_BYTES,
  MAX_PLAINTEXT_BYTES,
  openBundle,
  ReplayedSequenceError,
  sealBundle,
  signHandshake,
  verifyVisitorKey,
} from "./protocol.js";
import { Conversation } from "./conversation.js";
import { ensureEncryptionKey } from "./device-ek.js";
import { forgetDevice, loadDevice, saveDevice } from "./device-store.js";
import { EpochSession } from "./session.js";
import { TranscriptStore } from "./transcript-store.js";
import { Chime, el, format, hasWebCrypto, loadStrings, ReconnectingSocket, show, showDeliveryAt, websocketUrl } from "./ui.js";
import { verifiedTeam } from "../securemessages/mailbox.js";
import { requestJson } from "../securemessages/http.js";

const DEVICE_POLL_MS = 5000;
const TYPING_IDLE_MS = 3000;
const SAVE_DELAY_MS = 200; // a burst of changes to one chat is written once
const REFRESH_MS = 60000; // held chats' records are rewritten this often, so that only stale ones look stale
const TRANSFER_ANSWER_MS = 10000; // a refused transfer is answered at once; after this it went through
const MAX_BUNDLE_DEVICES = 8;
const OFFER_SLACK_MS = 6000; // the server withdraws an unanswered offer at its next clock tick after `expires`
const CLOSE_FORBIDDEN = 4403; // the server: this session may not counsel (signed out, or second factor gone)
const PREFS_KEY = "helpline.console.prefs"; // {available, sound, notify} in this tab's sessionStorage
const S = loadStrings("chat-strings");
const CANNED = loadStrings("canned-responses"); // {en: [...], nl: [...]}: picked by each chat's language
const $ = (id) => document.getElementById(id);
const root = $("console");

const state = {
  device: null, // {user, device, privateKey, publicKey, cert, encryptionKey?, encryptionPublic?, ekRaw?}
  orgKey: null, // the organisation key pinned in this page (org-key.js), for colleagues' and senders' certificates
  socket: null,
  store: null, // the encrypted transcript store, or null when IndexedDB refused it
  queue: [],
  offers: new Map(), // chat -> {epoch, vk, lang, waiting, expiresAt}
  chats: new Map(), // chat -> the chat's panel, conversation and record (makeChat)
  restorable: new Map(), // chat -> its kept record, until the server hands the chat back to this console
  pins: new Map(), // chat -> the visitor identity key pinned for it (docs/protocol.md §5)
  handovers: new Map(), // chat -> what a colleague's hand-over bundle said: {from, note, transcript, failed}
  seenWaiting: new Set(),
  chatNumber: 0,
  baseTitle: document.title,
  countdown: null,
  pendingTransfer: null, // {chat, timer}: a transfer the server has not refused (yet)
  dialogChat: null, // the chat the hand-over dialog is for
  colleagues: [],
};

/** "HH:MM" on a 24-hour clock: the form a hand-over transcript carries (docs/protocol.md §10). */
const clock = (date = new Date()) => date.toLocaleTimeString(document.documentElement.lang || undefined, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });

const request = (method, path, body) => requestJson(method, path, body, { csrf: root.dataset.csrf, networkMessage: S.reconnecting });

// --- device enrolment ---------------------------------------------------------------------------------

function deviceStatus(text) {
  $("device-status").textContent = text;
}

function jsonHeaders() {
  return { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": root.dataset.csrf };
}

async function enrol() {
  show($("device-enrol"), false);
  show($("device-reenrol"), false);
  try {
    await forgetDevice(root.dataset.user);
    const pair = await generateDeviceKeyPair();
    const publicKey = b64e(pair.publicRaw);
    const response = await fetch("/chat/device/", {
      method: "POST", credentials: "same-origin", headers: jsonHeaders(), body: JSON.stringify({ key: publicKey }),
    });
    if (!response.ok) throw new Error(`device ${response.status}`);
    const answer = await response.json();
    // The private key object is stored as it is: IndexedDB keeps a non-extractable CryptoKey usable.
    const record = { user: root.dataset.user, device: answer.device, privateKey: pair.privateKey, publicKey };
    await saveDevice(record);
    await checkDevice(record);
  } catch (error) {
    deviceStatus(S.enrol_failed);
    show($("device-enrol"));
  }
}

async function checkDevice(record) {
  let info = null;
  try {
    const response = await fetch(`/chat/device/${encodeURIComponent(record.device)}/`, {
      credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store",
    });
    if (response.ok) info = await response.json();
    else if (response.status !== 404) throw new Error(`device ${response.status}`);
  } catch (error) {
    window.setTimeout(() => checkDevice(record), DEVICE_POLL_MS);
    return;
  }
  if (!info || info.status === "revoked") {
    deviceStatus(S.enrol_revoked);
    show($("device-reenrol"));
    return;
  }
  if (info.status === "certified" && info.cert && info.cert.key === record.publicKey) {
    state.device = { ...record, cert: info.cert };
    deviceStatus(format(S.enrolled, { name: info.cert.pseudonym }));
    show($("device-reenrol"));
    await startConsole();
    return;
  }
  deviceStatus(S.enrol_waiting);
  show($("device-reenrol"));
  window.setTimeout(() => checkDevice(record), DEVICE_POLL_MS);
}

/** The device's encryption key, which hand-over bundles are sealed to (the inbox's code: device-ek.js). */
async function readyEncryptionKey() {
  try {
    const current = await ensureEncryptionKey(state.device, request);
    state.device = { ...state.device, ...current, ekRaw: b64d(current.encryptionPublic) };
  } catch (error) {
    deviceStatus(`${format(S.enrolled, { name: state.device.cert.pseudonym })} ${S.ek_failed}`);
  }
}

async function pinnedOrgKey() {
  const link = $("org-key-module");
  if (!link) return null;
  // The import map pins this URL by its integrity hash, like every module of the page.
  return (await import(link.href)).ORG_PUBLIC_KEY;
}

// --- preferences this tab keeps across a reload ----------------------------------------------------------

function savePrefs() {
  sessionStorage.setItem(PREFS_KEY, JSON.stringify({ available: $("available").checked, sound: $("sound").checked, notify: $("notify").checked }));
}

function restorePrefs() {
  let prefs = null;
  try {
    prefs = JSON.parse(sessionStorage.getItem(PREFS_KEY) || "null");
  } catch (error) {
    prefs = null;
  }
  if (!prefs) return;
  $("available").checked = prefs.available === true;
  $("sound").checked = prefs.sound === true;
  $("notify").checked = prefs.notify === true && notificationsAllowed();
}

// --- alerts ------------------------------------------------------------------------------------------

const chime = new Chime();

function unlockAudio() {
  chime.unlock();
}

function beep(frequency = 880) {
  if ($("sound").checked) chime.play(frequency);
}

function notificationsAllowed() {
  return typeof Notification !== "undefined" && Notification.permission === "granted";
}

/** A browser notification that says only that something happened: never who, never what anyone wrote. */
function notify(body) {
  if (!$("notify").checked || !notificationsAllowed() || !document.hidden) return;
  const note = new Notification(S.notify_title, { body, tag: "helpline-console", silent: true });
  note.addEventListener("click", () => window.focus());
}

/** Something happened that the counsellor may not be looking at: sound (if on) and a notification (if on). */
function cue(kind) {
  beep({ message: 880, left: 440, offer: 660 }[kind]);
  notify({ message: S.notify_message, left: S.notify_left, offer: S.notify_offer }[kind]);
}

function alertWaiting(text) {
  $("queue-alert").textContent = text;
  cue("offer");
}

function updateTitle() {
  let count = state.queue.length + state.offers.size;
  for (const chat of state.chats.values()) count += chat.unread;
  document.title = count ? `(${count}) ${state.baseTitle}` : state.baseTitle;
}

// --- the socket ---------------------------------------------------------------------------------------

function socketStatus(text) {
  $("socket-status").textContent = text;
}

/** What just happened (a wrap-up saved, an offer missed, an error): beside the connection's state, never over it. */
function consoleNotice(text) {
  const box = $("console-notice");
  box.textContent = text;
  show(box, Boolean(text));
}

async function startConsole() {
  if (state.socket) return;
  state.orgKey = await pinnedOrgKey().catch(() => null);
  await readyEncryptionKey();
  await restoreChats();
  show($("availability-section"));
  show($("queue-section"));
  socketStatus(S.connecting);
  let restoreTimerSet = false;
  state.socket = new ReconnectingSocket(websocketUrl("/ws/counsellor/"), {
    onOpen: () => {
      socketStatus(S.connected);
      if ($("available").checked) state.socket.send({ type: "available", on: true });
      if (!restoreTimerSet) {
        restoreTimerSet = true;
        window.setTimeout(forgetStaleRecords, Number(root.dataset.restoreWait || 180) * 1000);
      }
    },
    onFrame: (frame) => handleFrame(frame).catch(() => consoleNotice(format(S.error, { message: frame.type }))),
    onDown: (event) => {
      state.offers.clear();
      renderQueue();
      // Nothing reaches the visitor now: what has no receipt yet is not delivered yet, and goes again once the
      // server has handed the chats back to this console (a rekey each).
      for (const chat of state.chats.values()) {
        if (chat.ended) continue;
        chat.session = null;
        chat.conversation.holdUnconfirmed();
        chat.restartNote = S.restarted_console;
      }
      if (event.code === CLOSE_FORBIDDEN) {
        socketStatus(S.signed_out);
        return false;
      }
      socketStatus(S.reconnecting);
      return true;
    },
  });
  state.socket.start();
  window.setInterval(() => {
    for (const chat of state.chats.values()) if (!chat.ended) persist(chat);
  }, REFRESH_MS);

}

async function handleFrame(frame) {
  if (["rekey", "ended", "transferred"].includes(frame.type) && state.restorable.has(frame.chat) && !state.chats.has(frame.chat)) {
    // The server hands back (or ends) a chat this console held before a reload: its transcript comes back first,
    // with the identity key pinned for it, so the rekey is checked against that key and answered at once.
    restoreChat(state.restorable.get(frame.chat));
  }
  const chat = typeof frame.chat === "string" ? state.chats.get(frame.chat) : null;
  if (chat && frame.type !== "queue") chat.awaitingReturn = false;
  switch (frame.type) {
    case "queue":
      state.queue = Array.isArray(frame.chats) ? frame.chats : [];
      // An offer that is back in the waiting list was withdrawn: it was not answered in time, and the
      // server then marks this console away. Say so, and show it, rather than look available.
      for (const entry of state.queue) {
        if (state.offers.delete(entry.chat)) missedOffer();
      }
      return renderQueue();
    case "rekey":
      return onRekey(frame);
    case "msg":
      return onMessage(frame);
    case "typing":
      if (chat) chat.panel.querySelector(".chat-typing").textContent = frame.on ? S.typing : "";
      return undefined;
    case "ended":
      return onEnded(frame);
    case "presence":
      return onPresence(frame);
    case "handover":
      return onHandover(frame);
    case "transferred":
      return onTransferred(frame);
    case "error":
      if ((frame.code === "rate_limited" || frame.code === "undelivered") && Number.isInteger(frame.seq)) return markNotDelivered(frame);
      if (state.pendingTransfer && ["bad_frame", "unknown_chat", "not_yours"].includes(frame.code)) return transferRefused(frame);
      consoleNotice(format(S.error, { message: frame.message || frame.code }));
      return undefined;
    default:
      return undefined;
  }
}

// --- queue and offers -------------------------------------------------------------------------------------

function languageName(code) {
  return S[`language_${code}`] || String(code || "").toUpperCase();
}

function secondsLeft(offer) {
  return Math.max(0, Math.ceil((offer.expiresAt - Date.now()) / 1000));
}

function countdownText(offer) {
  const seconds = secondsLeft(offer);
  return seconds > 0 ? format(S.offer_left, { seconds }) : S.offer_expired;
}

/** An offer was withdrawn because nobody answered it: the server now counts this console as away. */
function missedOffer() {
  if ($("available").checked) {
    $("available").checked = false;
    savePrefs();
    state.socket.send({ type: "available", on: false });
  }
  consoleNotice(S.missed_offer);
}

function tickCountdowns() {
  let expired = false;
  for (const [chat, offer] of state.offers) {
    // A hand-over offer that ran out goes back to its sender without a word to this console: drop it here too.
    if (offer.expiresAt && Date.now() > offer.expiresAt + OFFER_SLACK_MS) {
      state.offers.delete(chat);
      state.handovers.delete(chat);
      expired = true;
    }
  }
  if (expired) {
    missedOffer();
    renderQueue();
  }
  for (const span of $("queue-list").querySelectorAll(".countdown")) {
    const offer = state.offers.get(span.dataset.chat);
    if (offer && offer.expiresAt) span.textContent = countdownText(offer);
  }
  if (![...state.offers.values()].some((offer) => offer.expiresAt)) {
    window.clearInterval(state.countdown);
    state.countdown = null;
  }
}

function renderQueue() {
  const list = $("queue-list");
  list.replaceChildren();
  for (const [chat, offer] of state.offers) {
    const handover = state.handovers.get(chat);
    const who = handover ? format(S.offer_handover, { name: handover.from }) : S.offer_new;
    const details = [who];
    if (offer.lang) details.push(languageName(offer.lang));
    if (Number.isInteger(offer.waiting)) details.push(format(S.waiting_minutes, { minutes: offer.waiting }));
    const button = el("button", { type: "button", text: S.accept });
    button.addEventListener("click", () => accept(chat, offer));
    const item = el("li", { className: "offer" }, el("span", { className: "offer-details", text: details.join(" · ") }));
    if (offer.expiresAt) item.append(el("span", { className: "countdown", "data-chat": chat, text: countdownText(offer) }));
    item.append(button);
    list.append(item);
  }
  let fresh = false;
  for (const entry of state.queue) {
    if (!state.seenWaiting.has(entry.chat)) fresh = true;
    state.seenWaiting.add(entry.chat);
    const label = `${String(entry.lang).toUpperCase()} · ${format(S.waiting_minutes, { minutes: entry.waiting })}`;
    list.append(el("li", {}, el("span", { text: label })));
  }
  if (!state.offers.size && !state.queue.length) list.append(el("li", { className: "hint", text: S.queue_empty }));
  $("queue-count").textContent = state.queue.length ? `(${state.queue.length})` : "";
  if (fresh) alertWaiting(S.new_in_queue);
  else if (!state.queue.length && !state.offers.size) $("queue-alert").textContent = "";
  if (!state.countdown && [...state.offers.values()].some((offer) => offer.expiresAt)) {
    state.countdown = window.setInterval(tickCountdowns, 1000);
  }
  updateTitle();
}

async function onRekey(frame) {
  // Key continuity: the visitor's epoch key must be signed by the chat's identity key, and that key must be
  // the one pinned for the chat (at the first offer, or from a colleague's hand-over bundle). A server, Redis or
  // channel layer that swaps it gets no answer, and a person is told (docs/protocol.md §5).
  const pinned = state.pins.get(frame.chat);
  const signed = await verifyVisitorKey(frame.ik, frame.vk, frame.vsig);
  const held = state.chats.get(frame.chat);
  if (!signed || (pinned && pinned !== frame.ik)) {
    if (held) addLine(held, "alarm", S.key_changed);
    else {
      consoleNotice(state.handovers.has(frame.chat) ? S.key_changed_offer : S.key_changed);
      state.handovers.delete(frame.chat);
    }
    return;
  }
  state.pins.set(frame.chat, frame.ik);
  if (held && !held.ended) {
    // A chat this console holds: the visitor came back with a new key, this console's socket came back, or a
    // hand-over nobody took returned. Answer at once: nobody needs to accept it again.
    if (held.handingTo) setHanding(held, null);
    await accept(frame.chat, { epoch: frame.epoch, vk: frame.vk, lang: frame.lang });
    return;
  }
  const expires = Number.isInteger(frame.expires) && frame.expires > 0 ? frame.expires : null;
  state.offers.set(frame.chat, {
    epoch: frame.epoch, vk: frame.vk, lang: typeof frame.lang === "string" ? frame.lang : null,
    waiting: Number.isInteger(frame.waiting) ? frame.waiting : null, expiresAt: expires ? Date.now() + expires * 1000 : null,
  });
  renderQueue();
  alertWaiting(S.offered);
}

function onPresence(frame) {
  const chat = state.chats.get(frame.chat);
  if (!chat) return;
  if (frame.peer === "back") {
    addLine(chat, "system", S.visitor_back);
    return;
  }
  if (frame.peer !== "away") return;
  chat.session = null;
  chat.conversation.holdUnconfirmed();
  addLine(chat, "system", format(S.visitor_away, { seconds: frame.grace ?? "" }));
}

async function accept(chatId, offer) {
  state.offers.delete(chatId);
  renderQueue();
  const pair = await generateChatKeyPair();
  const ck = b64e(pair.publicRaw);
  const sig = await signHandshake(state.device.privateKey, chatId, offer.epoch, offer.vk, ck);
  const session = await EpochSession.derive("counsellor", chatId, offer.epoch, pair.privateKey, offer.vk, ck);
  if (!state.socket.send({ type: "accept", chat: chatId, epoch: offer.epoch, ck, sig, device: state.device.device })) return;
  let chat = state.chats.get(chatId);
  if (chat) {
    chat.session = session;
    const note = chat.restartNote ?? S.restarted;
    if (note) addLine(chat, "system", note);
    chat.restartNote = null;
  } else {
    chat = makeChat(chatId, { lang: offer.lang });
    const handover = state.handovers.get(chatId);
    state.handovers.delete(chatId);
    if (handover) showHandover(chat, handover);
    chat.session = session;
    selectTab(chatId);
    chat.panel.querySelector(".panel-input").focus();
  }
  chat.panel.querySelector(".panel-safety-code").textContent = session.safetyCode;
  persist(chat);
  await chat.conversation.resendPending();
}

// --- chats in tabs ---------------------------------------------------------------------------------------

const LINE_CLASS = { them: "from-them", me: "from-me", system: "system", alarm: "system alarm", note: "system note" };

function whoOf(line) {
  if (line.who) return line.who;
  if (line.kind === "them") return S.visitor;
  if (line.kind === "me") return line.earlier ? S.colleague : S.you;
  return "";
}

function renderLine(chat, line) {
  const item = el("div", { className: `chat-line ${LINE_CLASS[line.kind] || "system"}${line.earlier ? " earlier" : ""}` });
  const who = whoOf(line);
  if (who) item.append(el("span", { className: "who", text: who }), " ");
  item.append(el("span", { className: "time", text: line.time || "" }));
  item.append(el("p", { className: "body", text: line.text }));
  const log = chat.panel.querySelector(".chat-log");
  log.append(item);
  item.scrollIntoView({ block: "nearest" });
  if (line.id) chat.lineNodes.set(line.id, item);
  return item;
}

/** A line in a chat's log: shown, kept in the chat's record (and so across a reload). */
function addLine(chat, kind, text, extra = {}) {
  const line = { kind, text: String(text), time: clock(), ...extra };
  chat.lines.push(line);
  const item = renderLine(chat, line);
  persist(chat);
  return { line, item };
}

function isInView(chat) {
  return chat.tab.getAttribute("aria-selected") === "true" && !document.hidden;
}

/** Something the counsellor should see happened in a chat: count it where they are not looking, and cue. */
function noteActivity(chat, kind) {
  if (isInView(chat)) return;
  chat.unread += 1;
  showUnread(chat);
  cue(kind);
}

function showUnread(chat) {
  // Shown and said in words, "Chat 1, 1 unread": a bare digit after the name read as "Chat 11".
  chat.badge.textContent = chat.unread ? `, ${format(S.tab_unread, { count: chat.unread })}` : "";
  updateTitle();
}

// The server could not pass a message on (nobody can receive it now, or it was too busy): the conversation
// holds it and sends it again once the visitor is back (docs/protocol.md §6).
function markNotDelivered(frame) {
  const chat = state.chats.get(frame.chat);
  if (chat) chat.conversation.refused(frame.seq, { busy: frame.code === "rate_limited" });
  return undefined;
}

function showDelivery(chat, message) {
  const line = chat.lineNodes.get(message.id);
  if (line) showDeliveryAt(line, message, S);
}

function selectTab(chatId) {
  for (const [id, chat] of state.chats) {
    const selected = id === chatId;
    chat.tab.setAttribute("aria-selected", String(selected));
    chat.tab.tabIndex = selected ? 0 : -1;
    show(chat.panel, selected);
    if (selected && chat.unread) {
      chat.unread = 0;
      showUnread(chat);
    }
  }
}

function renderCanned(chat) {
  const canned = chat.panel.querySelector(".canned");
  const input = chat.panel.querySelector(".panel-input");
  canned.replaceChildren();
  // Only texts written in the chat's language: one without a translation is not offered in this chat.
  const responses = CANNED[chat.lang] || [];
  for (const response of responses) {
    const button = el("button", { type: "button", className: "secondary", text: response.title });
    button.addEventListener("click", () => {
      input.value = input.value ? `${input.value} ${response.text}` : response.text;
      input.focus();
    });
    canned.append(button);
  }
  show(canned, responses.length > 0);
}

/** A chat's tab and panel, its conversation, and the record kept of it. */
function makeChat(chatId, { number = 0, lang = null } = {}) {
  const chatNumber = number || state.chatNumber + 1;
  state.chatNumber = Math.max(state.chatNumber, chatNumber);
  const tab = el("button", { type: "button", role: "tab", id: `chat-tab-${chatNumber}`, "aria-controls": `chat-panel-${chatNumber}` });
  const badge = el("span", { className: "badge" });
  tab.append(format(S.chat_tab, { number: chatNumber }), badge);
  const panel = $("chat-panel-template").content.firstElementChild.cloneNode(true);
  panel.id = `chat-panel-${chatNumber}`;
  panel.setAttribute("aria-labelledby", tab.id);
  const input = panel.querySelector(".panel-input");
  input.id = `chat-input-${chatNumber}`;
  panel.querySelector(".panel-input-label").htmlFor = input.id;
  // No category is chosen for the counsellor: a default would skew the counts. One must be chosen to end.
  panel.querySelector(".wrapup input[name=contact]").required = true;
  const chat = {
    id: chatId, number: chatNumber, lang: lang || root.dataset.lang || "en", session: null, tab, panel, badge,
    unread: 0, ended: false, typingSent: false, typingTimer: null, wrapupToken: null, handingTo: null,
    lines: [], lineNodes: new Map(), saveTimer: null, awaitingReturn: false, releaseLock: null,
    restartNote: null, // what the log says at the next answered rekey (null: the visitor reconnected)
  };
  chat.conversation = new Conversation({
    session: () => chat.session,
    send: (frame) => Boolean(state.socket) && state.socket.send(frame),
    changed: (message) => {
      showDelivery(chat, message);
      persist(chat);
    },
  });
  state.chats.set(chatId, chat);
  holdLock(chat);
  panel.querySelector(".panel-about").textContent = format(S.chat_language, { language: languageName(chat.lang) });
  renderCanned(chat);

  tab.addEventListener("click", () => selectTab(chatId));
  tab.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
    const tabs = [...$("chat-tabs").querySelectorAll("[role=tab]")];
    const next = tabs[(tabs.indexOf(tab) + (event.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
    next.click();
    next.focus();
  });
  panel.querySelector(".panel-form").addEventListener("submit", (event) => sendMessage(event, chat));
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      panel.querySelector(".panel-form").requestSubmit();
    }
  });
  input.addEventListener("input", () => {
    sendTyping(chat, input.value.length > 0);
    window.clearTimeout(chat.typingTimer);
    chat.typingTimer = window.setTimeout(() => sendTyping(chat, false), TYPING_IDLE_MS);
  });
  panel.querySelector(".panel-handover").addEventListener("click", () => openHandoverDialog(chat));
  panel.querySelector(".panel-end").addEventListener("click", () => {
    show(panel.querySelector(".wrapup"));
    panel.querySelector(".wrapup input").focus();
  });
  panel.querySelector(".panel-wrapup-cancel").addEventListener("click", () => show(panel.querySelector(".wrapup"), false));
  panel.querySelector(".wrapup").addEventListener("submit", (event) => endChat(event, chat));

  $("chat-tabs").append(tab);
  $("chat-panels").append(panel);
  show(panel, false);
  show($("no-chats"), false);
  if (state.chats.size === 1) selectTab(chatId);
  return chat;
}

function closeChat(chat) {
  if (chat.releaseLock) chat.releaseLock();
  chat.session = null;
  chat.conversation.forget();
  window.clearTimeout(chat.saveTimer);
  if (state.store) state.store.remove(chat.id).catch(() => {});
  state.pins.delete(chat.id);
  state.chats.delete(chat.id);
  chat.tab.remove();
  chat.panel.remove();
  const next = state.chats.keys().next();
  if (!next.done) selectTab(next.value);
  show($("no-chats"), state.chats.size === 0);
  updateTitle();
}

function sendTyping(chat, on) {
  if (chat.ended || !chat.session || chat.typingSent === on) return;
  chat.typingSent = on;
  state.socket.send({ type: "typing", chat: chat.id, on });
}

async function sendMessage(event, chat) {
  event.preventDefault();
  const input = chat.panel.querySelector(".panel-input");
  const body = input.value.trim();
  if (!body || chat.ended || chat.handingTo) return;
  if (encodeMessage({ t: "text", id: "AAAAAAAAAAA", body }).length > MAX_PLAINTEXT_BYTES) return;
  input.value = "";
  window.clearTimeout(chat.typingTimer);
  sendTyping(chat, false);
  // Sent now if the visitor can receive it, else held and sent again once they are back.
  const { line, item } = addLine(chat, "me", body);
  const message = await chat.conversation.write(body);
  line.id = message.id;
  chat.lineNodes.set(message.id, item);
  showDelivery(chat, message);
  persist(chat);
}

async function onMessage(frame) {
  const chat = state.chats.get(frame.chat);
  const session = chat && chat.session;
  if (!session || frame.epoch !== session.epoch) return;
  let opened;
  try {
    opened = await session.open(frame);
  } catch (error) {
    if (!(error instanceof ReplayedSequenceError)) addLine(chat, "system", S.unreadable);
    return;
  }
  if (opened.missing > 0) addLine(chat, "system", S.missing);
  const meaning = chat.conversation.received(opened.message);
  if (meaning.text) {
    chat.panel.querySelector(".chat-typing").textContent = "";
    addLine(chat, "them", meaning.text.body);
    noteActivity(chat, "message");
  }
  persist(chat); // the ids seen, so that a copy sent again after a reload is not shown twice
}

function onEnded(frame) {
  state.offers.delete(frame.chat);
  state.handovers.delete(frame.chat);
  renderQueue();
  const chat = state.chats.get(frame.chat);
  if (!chat || chat.ended) return;
  const text = frame.hurry ? S.visitor_hurry : { visitor: S.visitor_left, timeout: S.ended_timeout }[frame.by] || S.ended;
  if (typeof frame.wrapup_token === "string") chat.wrapupToken = frame.wrapup_token;
  markEnded(chat, text);
  if (frame.by === "visitor" || frame.by === "timeout") noteActivity(chat, "left");
}

/** The chat is over: say why, keep it readable, and offer the wrap-up while its token is good. */
function markEnded(chat, text) {
  chat.ended = true;
  chat.session = null;
  chat.conversation.ended(); // what the visitor had not received by now, they never will: say so at each text
  setHanding(chat, null);
  addLine(chat, "system", text);
  if (chat.wrapupToken) addLine(chat, "system", S.wrapup_after_end);
  renderEnded(chat);
  persist(chat);
}

function renderEnded(chat) {
  chat.panel.querySelector(".chat-typing").textContent = "";
  for (const control of chat.panel.querySelectorAll(".panel-form textarea, .panel-form button, .panel-tools button")) control.disabled = true;
  const close = el("button", { type: "button", className: "secondary", text: S.close });
  close.addEventListener("click", () => closeChat(chat));
  chat.panel.querySelector(".panel-tools").append(close);
  const form = chat.panel.querySelector(".wrapup");
  if (!chat.wrapupToken) {
    show(form, false);
    return;
  }
  // Ended without our wrap-up (the visitor left, or a timeout): the tab stays open with the form, which
  // now goes to the staff endpoint with the frame's one-time token instead of the socket.
  show(form.querySelector(".panel-wrapup-cancel"), false);
  form.querySelector(".panel-wrapup-submit").textContent = S.wrapup_save;
  show(form);
}

function readWrapup(form) {
  const wrapup = {};
  const contact = form.querySelector("input[name=contact]:checked");
  if (contact) wrapup.contact = contact.value;
  for (const category of ["concern", "action"]) {
    const codes = [...form.querySelectorAll(`input[name=${category}]:checked`)].map((input) => input.value);
    if (codes.length) wrapup[category] = codes;
  }
  return wrapup;
}

function endChat(event, chat) {
  event.preventDefault();
  const wrapup = readWrapup(event.target);
  if (chat.ended) {
    if (chat.wrapupToken) saveLateWrapup(chat, wrapup);
    return;
  }
  if (state.socket.send({ type: "end", chat: chat.id, wrapup })) closeChat(chat);
}

async function saveLateWrapup(chat, wrapup) {
  const form = chat.panel.querySelector(".wrapup");
  const submit = form.querySelector(".panel-wrapup-submit");
  submit.disabled = true;
  let response;
  try {
    response = await fetch(root.dataset.wrapupUrl, {
      method: "POST", credentials: "same-origin", headers: jsonHeaders(), cache: "no-store",
      body: JSON.stringify({ token: chat.wrapupToken, wrapup }),
    });
  } catch (error) {
    submit.disabled = false; // nothing was counted: the same token can be sent again
    addLine(chat, "system", S.wrapup_network);
    return;
  }
  if (response.ok) {
    chat.wrapupToken = null;
    closeChat(chat);
    consoleNotice(S.wrapup_saved);
    return;
  }
  const answer = await response.json().catch(() => ({}));
  addLine(chat, "system", format(S.wrapup_failed, { message: typeof answer.error === "string" ? answer.error : String(response.status) }));
  if (response.status === 400) {
    submit.disabled = false; // the token was not used: the codes can be corrected
  } else {
    chat.wrapupToken = null; // used, expired or not ours: it will never count
    show(form, false);
    persist(chat);
  }
}

// --- what this browser keeps of the chats it holds --------------------------------------------------------

function recordOf(chat) {
  return {
    v: 1, savedAt: Date.now(), chat: chat.id, number: chat.number, lang: chat.lang, ik: state.pins.get(chat.id) || null, lines: chat.lines,
    conversation: chat.conversation.snapshot(), wrapupToken: chat.wrapupToken, ended: chat.ended, handingTo: chat.handingTo,
  };
}

function persist(chat) {
  if (!state.store || !state.chats.has(chat.id)) return;
  window.clearTimeout(chat.saveTimer);
  chat.saveTimer = window.setTimeout(() => {
    if (state.chats.has(chat.id)) state.store.save(chat.id, recordOf(chat)).catch(() => {});
  }, SAVE_DELAY_MS);
}

const lockName = (chatId) => `helpline-console-chat:${chatId}`;

/** While this tab holds a chat it holds a Web Lock named for it: another console tab leaves that chat's record alone. */
function holdLock(chat) {
  if (!navigator.locks) return;
  navigator.locks.request(lockName(chat.id), () => new Promise((release) => { chat.releaseLock = release; })).catch(() => {});
}

/**
 * Before the socket opens: what this browser kept of the chats it held, back on screen, waiting for the server to
 * hand them back. A record whose chat another console tab of this person holds (its lock is taken) is left to
 * that tab, and shown here only if the server hands the chat to this tab (a rekey) or ends it here.
 */
async function restoreChats() {
  try {
    state.store = await TranscriptStore.open(root.dataset.storeTag || "");
  } catch (error) {
    state.store = null; // a browser that refuses IndexedDB here: the console works, a reload loses the transcripts
    return;
  }
  const records = await state.store.loadAll().catch(() => []);
  const locks = navigator.locks ? await navigator.locks.query().catch(() => ({})) : {};
  const elsewhere = new Set((locks.held || []).map((lock) => lock.name));
  records.sort((left, right) => left.number - right.number);
  for (const record of records) {
    if (!record || typeof record.chat !== "string" || state.chats.has(record.chat)) continue;
    if (elsewhere.has(lockName(record.chat))) {
      state.restorable.set(record.chat, record);
      continue;
    }
    const chat = restoreChat(record);
    if (!chat.ended) {
      chat.awaitingReturn = true;
      addLine(chat, "system", S.restored);
    }
  }
}

/** A chat of this browser's store back on screen: its lines, delivery states, ids seen and pinned identity key. */
function restoreChat(record) {
  state.restorable.delete(record.chat);
  const chat = makeChat(record.chat, { number: Number(record.number) || 0, lang: record.lang });
  if (typeof record.ik === "string") state.pins.set(record.chat, record.ik);
  chat.wrapupToken = typeof record.wrapupToken === "string" ? record.wrapupToken : null;
  chat.ended = record.ended === true;
  for (const line of Array.isArray(record.lines) ? record.lines : []) {
    chat.lines.push(line);
    renderLine(chat, line);
  }
  chat.conversation.restore(record.conversation || {});
  for (const item of chat.conversation.snapshot().items) showDelivery(chat, item);
  if (chat.ended) {
    renderEnded(chat);
    return chat;
  }
  chat.restartNote = S.restarted_console;
  if (typeof record.handingTo === "string") setHanding(chat, record.handingTo);
  return chat;
}

/**
 * After the grace periods: a restored chat the server never mentioned again ended or went elsewhere while the
 * console was closed; a record left to another tab that no tab refreshed meanwhile is stale.
 */
function forgetStaleRecords() {
  for (const chat of [...state.chats.values()]) {
    if (chat.awaitingReturn && !chat.ended) {
      chat.awaitingReturn = false;
      chat.wrapupToken = null;
      markEnded(chat, S.not_back);
    }
  }
  const before = Date.now() - Number(root.dataset.restoreWait || 180) * 1000;
  for (const [chatId, record] of state.restorable) {
    if (typeof record.savedAt === "number" && record.savedAt > before) continue;
    state.restorable.delete(chatId);
    if (state.store) state.store.remove(chatId).catch(() => {});
  }
}

async function signOutAndWipe(event) {
  const form = event.target;
  if (form.dataset.wiped) return;
  event.preventDefault();
  // Nothing of any chat stays in this browser after its session ends.
  await Promise.race([state.store ? state.store.wipe() : null, new Promise((resolve) => window.setTimeout(resolve, 2000))]).catch(() => {});
  sessionStorage.removeItem(PREFS_KEY);
  form.dataset.wiped = "yes";
  form.submit();
}

// --- hand-over ----------------------------------------------------------------------------------------------

/** The panel's own state line: while a chat is being handed over, nothing can be sent in it. */
function setHanding(chat, name) {
  chat.handingTo = name;
  const line = chat.panel.querySelector(".panel-state");
  line.textContent = name ? format(S.handing_to, { name }) : "";
  show(line, Boolean(name));
  chat.panel.classList.toggle("handing", Boolean(name));
  for (const control of chat.panel.querySelectorAll(".panel-form textarea, .panel-form button, .panel-tools button")) {
    control.disabled = Boolean(name) || chat.ended;
  }
}

function colleagueLine(colleague) {
  if (!colleague.online) return format(S.colleague_offline, { name: colleague.name });
  if (!colleague.devices.length) return format(S.colleague_no_key, { name: colleague.name });
  return format(colleague.available ? S.colleague_available : S.colleague_busy, { name: colleague.name });
}

async function loadColleagues() {
  const { colleagues } = await request("GET", "/chat/colleagues/");
  const checked = [];
  for (const colleague of Array.isArray(colleagues) ? colleagues : []) {
    // Every device is checked here against the organisation key this page pins: the server's word is not enough.
    const devices = state.orgKey ? await verifiedTeam(colleague.devices, state.orgKey) : [];
    checked.push({ id: colleague.id, name: String(colleague.name), online: colleague.online === true, available: colleague.available === true, devices });
  }
  // Those who can take the chat first, then the rest.
  checked.sort((left, right) => Number(right.online && right.devices.length > 0) - Number(left.online && left.devices.length > 0));
  return checked;
}

async function openHandoverDialog(chat) {
  state.dialogChat = chat;
  const box = $("handover-colleagues");
  box.replaceChildren();
  $("handover-form").reset();
  $("handover-status").textContent = S.colleagues_loading;
  $("handover-dialog").showModal();
  try {
    state.colleagues = await loadColleagues();
  } catch (error) {
    state.colleagues = [];
    $("handover-status").textContent = S.colleagues_failed;
    return;
  }
  $("handover-status").textContent = state.orgKey ? "" : S.handover_no_org_key;
  for (const colleague of state.colleagues) {
    const selectable = colleague.online && colleague.devices.length > 0;
    const radio = el("input", { type: "radio", name: "handover-to", value: String(colleague.id), disabled: !selectable, required: true });
    box.append(el("label", { className: `inline${selectable ? "" : " unavailable"}` }, radio, " ", colleagueLine(colleague)));
  }
  // The dialog opened before the list came; a keyboard user starts on the first colleague who can take the chat.
  const first = box.querySelector("input:not([disabled])");
  const opened = document.activeElement;
  if (first && (!opened || opened === $("handover-dialog") || opened.value === "queue")) first.focus();
}

/** What the colleague reads: `{from, at, text}` per line (docs/protocol.md §10), oldest lines left out to fit. */
function bundleContent(chat, note) {
  const from = { them: "visitor", me: "counsellor" };
  const transcript = chat.lines.map((line) => ({ from: from[line.kind] || "system", at: line.time || "", text: line.text }));
  const content = { v: 2, chat: chat.id, ik: state.pins.get(chat.id), note, transcript };
  let trimmed = false;
  while (transcript.length > 1 && encodeMessage(content).length > MAX_BUNDLE_PLAINTEXT_BYTES) {
    if (trimmed) transcript.splice(1, 1);
    else transcript.splice(0, 1, { from: "system", at: "", text: S.history_trimmed });
    trimmed = true;
  }
  return content;
}

async function sendHandover(event) {
  event.preventDefault();
  const chat = state.dialogChat;
  const choice = $("handover-form").querySelector("input[name=handover-to]:checked");
  if (!chat || !choice || !state.chats.has(chat.id) || chat.ended) {
    $("handover-status").textContent = S.handover_choose;
    return;
  }
  if (choice.value === "queue") {
    if (state.socket.send({ type: "transfer", chat: chat.id, to: "queue" })) {
      $("handover-dialog").close();
      closeChat(chat);
      consoleNotice(S.transferred);
    }
    return;
  }
  const colleague = state.colleagues.find((entry) => String(entry.id) === choice.value);
  if (!colleague || !state.pins.get(chat.id)) return;
  const recipients = {};
  for (const device of colleague.devices.slice(0, MAX_BUNDLE_DEVICES)) recipients[device.device] = device.ekRaw;
  $("handover-send").disabled = true;
  try {
    const note = $("handover-note").value.trim();
    const bundle = await sealBundle(bundleContent(chat, note), chat.id, recipients, state.device.privateKey, state.device.device, state.device.cert);
    if (!state.socket.send({ type: "transfer", chat: chat.id, to: colleague.id, bundle })) {
      $("handover-status").textContent = S.reconnecting;
      return;
    }
  } catch (error) {
    $("handover-status").textContent = format(S.handover_refused, { message: error.message });
    return;
  } finally {
    $("handover-send").disabled = false;
  }
  $("handover-dialog").close();
  // The visitor is in the queue now: nothing reaches them until someone (the colleague, or this console) rekeys.
  chat.sessionBeforeHandover = chat.session;
  chat.session = null;
  chat.conversation.holdUnconfirmed();
  chat.restartNote = ""; // if it comes back, the log says so (onTransferred)
  setHanding(chat, colleague.name);
  addLine(chat, "system", format(S.handing_to, { name: colleague.name }));
  window.clearTimeout(state.pendingTransfer?.timer);
  state.pendingTransfer = { chat: chat.id, timer: window.setTimeout(() => { state.pendingTransfer = null; }, TRANSFER_ANSWER_MS) };
}

/** The server refused the transfer just sent (the colleague closed their console meanwhile): the chat stays here. */
function transferRefused(frame) {
  const chat = state.chats.get(state.pendingTransfer.chat);
  window.clearTimeout(state.pendingTransfer.timer);
  state.pendingTransfer = null;
  if (!chat) return;
  setHanding(chat, null);
  chat.session = chat.sessionBeforeHandover;
  chat.sessionBeforeHandover = null;
  chat.restartNote = null;
  addLine(chat, "system", format(S.handover_refused, { message: frame.message || frame.code }));
  chat.conversation.resendPending();
}

function onTransferred(frame) {
  const chat = state.chats.get(frame.chat);
  if (!chat || !chat.handingTo) return;
  const name = chat.handingTo;
  if (frame.outcome === "taken") {
    closeChat(chat);
    consoleNotice(format(S.handover_taken, { name }));
  } else if (frame.outcome === "returned") {
    chat.sessionBeforeHandover = null;
    setHanding(chat, null);
    addLine(chat, "system", format(S.handover_returned, { name }));
    noteActivity(chat, "message");
  }
}

/** A colleague hands this person a chat: open the bundle with this device's encryption key; the offer follows. */
async function onHandover(frame) {
  const from = typeof frame.from === "string" ? frame.from : "";
  let entry = { from, failed: true };
  try {
    if (!state.device.encryptionKey || !state.orgKey) throw new Error("no encryption key or org key here");
    const { content, sender } = await openBundle(frame.bundle, frame.chat, state.device.device, state.device.encryptionKey, state.device.ekRaw, state.orgKey);
    if (content.v !== 2 || content.chat !== frame.chat || typeof content.ik !== "string") throw new Error("not this chat's bundle");
    entry = {
      from: sender.pseudonym, failed: false, note: typeof content.note === "string" ? content.note : "",
      transcript: Array.isArray(content.transcript) ? content.transcript : [],
    };
    // The colleague's signed word for who the visitor is: a rekey with another identity key is refused.
    state.pins.set(frame.chat, content.ik);
  } catch (error) {
    entry.failed = true;
  }
  state.handovers.set(frame.chat, entry);
  renderQueue();
}

function showHandover(chat, handover) {
  addLine(chat, "system", format(S.handover_from, { name: handover.from }));
  if (handover.failed) {
    addLine(chat, "alarm", S.handover_unreadable);
    return;
  }
  if (handover.note) addLine(chat, "note", handover.note, { who: format(S.note_from, { name: handover.from }) });
  const kinds = { visitor: "them", counsellor: "me" };
  for (const entry of handover.transcript) {
    if (!entry || typeof entry.text !== "string") continue;
    addLine(chat, kinds[entry.from] || "system", entry.text, { earlier: true, time: typeof entry.at === "string" ? entry.at.slice(0, 5) : "" });
  }
  if (handover.transcript.length) addLine(chat, "system", S.handover_history_end);
}

// --- wiring ----------------------------------------------------------------------------------------------

async function askForNotifications(event) {
  savePrefs();
  if (!event.target.checked || typeof Notification === "undefined") return;
  // Asked only now, because the counsellor ticked it.
  if (Notification.permission !== "granted" && (await Notification.requestPermission()) !== "granted") {
    event.target.checked = false;
    savePrefs();
    consoleNotice(S.notify_denied);
  }
}

async function init() {
  if (!hasWebCrypto() || typeof WebSocket === "undefined" || typeof indexedDB === "undefined") {
    deviceStatus(S.no_webcrypto);
    return;
  }
  restorePrefs();
  $("device-enrol").addEventListener("click", enrol);
  $("device-reenrol").addEventListener("click", enrol);
  $("available").addEventListener("change", (event) => {
    unlockAudio();
    savePrefs();
    if (state.socket) state.socket.send({ type: "available", on: event.target.checked });
  });
  $("sound").addEventListener("change", () => {
    unlockAudio();
    savePrefs();
    beep();
  });
  $("notify").addEventListener("change", askForNotifications);
  $("handover-form").addEventListener("submit", sendHandover);
  $("handover-cancel").addEventListener("click", () => $("handover-dialog").close());
  document.addEventListener("click", unlockAudio, { once: true });
  document.addEventListener("visibilitychange", () => {
    const selected = [...state.chats.values()].find((chat) => chat.tab.getAttribute("aria-selected") === "true");
    if (!document.hidden && selected && selected.unread) {
      selected.unread = 0;
      showUnread(selected);
    }
  });
  const signOut = document.querySelector("form[action*='sign-out']");
  if (signOut) signOut.addEventListener("submit", signOutAndWipe);
  const record = await loadDevice(root.dataset.user).catch(() => null);
  if (record) {
    await checkDevice(record);
  } else {
    deviceStatus(S.enrol_needed);
    show($("device-enrol"));
  }
}

init();

// The counsellor console: device enrolment, availability, the live queue, offers, chats in tabs, wrap-up.
//
// The device key is an ECDSA P-256 key made here, non-extractable, kept in this browser's IndexedDB; the
// server only ever sees its public half and stores the organisation's certificate for it. Chat keys are
// made per epoch, in memory, and dropped when the chat ends. The server routes chats: while this console
// is available it is offered chats as `rekey` frames, answered with a signed `accept`.
import { b64e, encodeMessage, generateChatKeyPair, generateDeviceKeyPair, MAX_PLAINTEXT_BYTES, ReplayedSequenceError, signHandshake, verifyVisitorKey } from "./protocol.js";
import { Conversation, DELIVERED, HELD } from "./conversation.js";
import { forgetDevice, loadDevice, saveDevice } from "./device-store.js";
import { EpochSession } from "./session.js";
import { el, format, hasWebCrypto, loadStrings, ReconnectingSocket, show, websocketUrl } from "./ui.js";

const DEVICE_POLL_MS = 5000;
const TYPING_IDLE_MS = 3000;
const CLOSE_FORBIDDEN = 4403; // the server: this session may not counsel (signed out, or second factor gone)
const S = loadStrings("chat-strings");
const CANNED = loadStrings("canned-responses");
const $ = (id) => document.getElementById(id);
const root = $("console");

const state = {
  device: null, // {user, device, privateKey, publicKey, cert}
  socket: null,
  queue: [],
  offers: new Map(), // chat -> {epoch, vk, ik}
  chats: new Map(), // chat -> {number, session, tab, panel, ended, wrapupToken, conversation, lines}
  pins: new Map(), // chat -> the visitor identity key pinned for it (docs/protocol.md §5)
  seenWaiting: new Set(),
  chatNumber: 0,
  audio: null,
  baseTitle: document.title,
};

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
    startConsole();
    return;
  }
  deviceStatus(S.enrol_waiting);
  show($("device-reenrol"));
  window.setTimeout(() => checkDevice(record), DEVICE_POLL_MS);
}

// --- alerts ------------------------------------------------------------------------------------------

function unlockAudio() {
  // Browsers let a page make sound only after a person did something on it: this runs from a click.
  if (!state.audio && window.AudioContext) state.audio = new AudioContext();
  if (state.audio && state.audio.state === "suspended") state.audio.resume();
}

function beep() {
  if (!$("sound").checked || !state.audio || state.audio.state !== "running") return;
  const now = state.audio.currentTime;
  const tone = state.audio.createOscillator();
  const gain = state.audio.createGain();
  tone.frequency.value = 880;
  gain.gain.setValueAtTime(0.0001, now);
  gain.gain.exponentialRampToValueAtTime(0.2, now + 0.02);
  gain.gain.exponentialRampToValueAtTime(0.0001, now + 0.35);
  tone.connect(gain).connect(state.audio.destination);
  tone.start(now);
  tone.stop(now + 0.4);
}

function alertWaiting(text) {
  $("queue-alert").textContent = text;
  beep();
}

function updateTitle() {
  const waiting = state.queue.length + state.offers.size;
  document.title = waiting ? `(${waiting}) ${state.baseTitle}` : state.baseTitle;
}

// --- the socket ---------------------------------------------------------------------------------------

function socketStatus(text) {
  $("socket-status").textContent = text;
}

function startConsole() {
  if (state.socket) return;
  show($("availability-section"));
  show($("queue-section"));
  socketStatus(S.connecting);
  state.socket = new ReconnectingSocket(websocketUrl("/ws/counsellor/"), {
    onOpen: () => {
      socketStatus(S.connected);
      if ($("available").checked) state.socket.send({ type: "available", on: true });
    },
    onFrame: (frame) => handleFrame(frame).catch(() => socketStatus(format(S.error, { message: frame.type }))),
    onDown: (event) => {
      state.offers.clear();
      renderQueue();
      if (event.code === CLOSE_FORBIDDEN) {
        socketStatus(S.signed_out);
        return false;
      }
      socketStatus(S.reconnecting);
      return true;
    },
  });
  state.socket.start();
}

async function handleFrame(frame) {
  switch (frame.type) {
    case "queue":
      state.queue = Array.isArray(frame.chats) ? frame.chats : [];
      // An offer that is back in the waiting list was withdrawn: it was not answered in time, and the
      // server then marks this console away. Say so, and show it, rather than look available.
      for (const entry of state.queue) {
        if (state.offers.delete(entry.chat) && $("available").checked) {
          $("available").checked = false;
          state.socket.send({ type: "available", on: false });
          socketStatus(S.missed_offer);
        }
      }
      return renderQueue();
    case "rekey":
      return onRekey(frame);
    case "msg":
      return onMessage(frame);
    case "typing": {
      const chat = state.chats.get(frame.chat);
      if (chat) chat.panel.querySelector(".chat-typing").textContent = frame.on ? S.typing : "";
      return undefined;
    }
    case "ended":
      return onEnded(frame);
    case "presence":
      return onPresence(frame);
    case "error":
      if ((frame.code === "rate_limited" || frame.code === "undelivered") && Number.isInteger(frame.seq)) return markNotDelivered(frame);
      socketStatus(format(S.error, { message: frame.message || frame.code }));
      return undefined;
    default:
      return undefined;
  }
}

// --- queue and offers -------------------------------------------------------------------------------------

function renderQueue() {
  const list = $("queue-list");
  list.replaceChildren();
  for (const [chat, offer] of state.offers) {
    const button = el("button", { type: "button", text: S.accept });
    button.addEventListener("click", () => accept(chat, offer));
    list.append(el("li", { className: "offer" }, el("span", { text: S.offered }), button));
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
  updateTitle();
}

async function onRekey(frame) {
  // Key continuity: the visitor's epoch key must be signed by the chat's identity key, and that key must be
  // the one pinned for the chat. A server, Redis or channel layer that swaps it gets no answer, and a person
  // is told (docs/protocol.md §5).
  const pinned = state.pins.get(frame.chat);
  const signed = await verifyVisitorKey(frame.ik, frame.vk, frame.vsig);
  const held = state.chats.get(frame.chat);
  if (!signed || (pinned && pinned !== frame.ik)) {
    if (held) addLine(held, "system alarm", "", S.key_changed);
    else socketStatus(S.key_changed);
    return;
  }
  state.pins.set(frame.chat, frame.ik);
  if (held && !held.ended) {
    // The visitor came back with a new key: answer at once, both pages say the session restarted.
    await accept(frame.chat, { epoch: frame.epoch, vk: frame.vk });
    return;
  }
  state.offers.set(frame.chat, { epoch: frame.epoch, vk: frame.vk, lang: frame.lang, waiting: frame.waiting });
  renderQueue();
  alertWaiting(S.offered);
}

function onPresence(frame) {
  const chat = state.chats.get(frame.chat);
  if (!chat || frame.peer !== "away") {
    if (chat && frame.peer === "back") addLine(chat, "system", "", S.visitor_back);
    return;
  }
  chat.session = null;
  chat.conversation.holdUnconfirmed();
  addLine(chat, "system", "", format(S.visitor_away, { seconds: frame.grace ?? "" }));
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
    addLine(chat, "system", "", S.restarted);
  } else {
    chat = openChatPanel(chatId, session);
  }
  chat.panel.querySelector(".panel-safety-code").textContent = session.safetyCode;
  await chat.conversation.resendPending();
}

// --- chats in tabs ---------------------------------------------------------------------------------------

function addLine(chat, kind, who, text) {
  const item = el("div", { className: `chat-line ${kind}` });
  if (who) item.append(el("span", { className: "who", text: who }));
  item.append(el("p", { className: "body", text }));
  const log = chat.panel.querySelector(".chat-log");
  log.append(item);
  item.scrollIntoView({ block: "nearest" });
  if (kind === "from-them" && chat.tab.getAttribute("aria-selected") !== "true") {
    chat.unread += 1;
    chat.badge.textContent = String(chat.unread);
  }
  return item;
}

// The server could not pass a message on (nobody can receive it now, or it was too busy): the conversation
// holds it and sends it again once the visitor is back (docs/protocol.md §6).
function markNotDelivered(frame) {
  const chat = state.chats.get(frame.chat);
  if (chat) chat.conversation.refused(frame.seq, { busy: frame.code === "rate_limited" });
  return undefined;
}

function showDelivery(chat, message) {
  const line = chat.lines.get(message.id);
  if (!line) return;
  let mark = line.querySelector(".delivery");
  if (!mark) {
    mark = el("p", { className: "delivery" });
    line.append(mark);
  }
  line.classList.toggle("not-delivered", message.state === HELD);
  mark.textContent = { [DELIVERED]: S.delivered, [HELD]: S.held }[message.state] || S.sending;
}

function selectTab(chatId) {
  for (const [id, chat] of state.chats) {
    const selected = id === chatId;
    chat.tab.setAttribute("aria-selected", String(selected));
    chat.tab.tabIndex = selected ? 0 : -1;
    show(chat.panel, selected);
    if (selected) {
      chat.unread = 0;
      chat.badge.textContent = "";
    }
  }
}

function openChatPanel(chatId, session) {
  state.chatNumber += 1;
  const number = state.chatNumber;
  const tab = el("button", { type: "button", role: "tab", id: `chat-tab-${number}`, "aria-controls": `chat-panel-${number}` });
  const badge = el("span", { className: "badge" });
  tab.append(format(S.chat_tab, { number }), badge);
  const panel = $("chat-panel-template").content.firstElementChild.cloneNode(true);
  panel.id = `chat-panel-${number}`;
  panel.setAttribute("aria-labelledby", tab.id);
  const input = panel.querySelector(".panel-input");
  input.id = `chat-input-${number}`;
  panel.querySelector(".panel-input-label").htmlFor = input.id;
  const transfer = panel.querySelector(".panel-transfer");
  transfer.id = `chat-transfer-${number}`;
  panel.querySelector(".panel-transfer-label").htmlFor = transfer.id;
  const chat = { id: chatId, number, session, tab, panel, badge, unread: 0, ended: false, typingSent: false, typingTimer: null, wrapupToken: null, lines: new Map() };
  chat.conversation = new Conversation({
    session: () => chat.session,
    send: (frame) => Boolean(state.socket) && state.socket.send(frame),
    changed: (message) => showDelivery(chat, message),
  });
  state.chats.set(chatId, chat);

  const canned = panel.querySelector(".canned");
  for (const response of CANNED) {
    const button = el("button", { type: "button", className: "secondary", text: response.title });
    button.addEventListener("click", () => {
      input.value = input.value ? `${input.value} ${response.text}` : response.text;
      input.focus();
    });
    canned.append(button);
  }
  show(canned, CANNED.length > 0);

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
  panel.querySelector(".panel-transfer-go").addEventListener("click", () => {
    const to = transfer.value === "queue" ? "queue" : Number(transfer.value);
    if (state.socket.send({ type: "transfer", chat: chatId, to })) {
      closeChat(chat);
      socketStatus(S.transferred);
    }
  });
  panel.querySelector(".panel-end").addEventListener("click", () => {
    show(panel.querySelector(".wrapup"));
    panel.querySelector(".wrapup input").focus();
  });
  panel.querySelector(".panel-wrapup-cancel").addEventListener("click", () => show(panel.querySelector(".wrapup"), false));
  panel.querySelector(".wrapup").addEventListener("submit", (event) => endChat(event, chat));

  $("chat-tabs").append(tab);
  $("chat-panels").append(panel);
  show($("no-chats"), false);
  selectTab(chatId);
  input.focus();
  return chat;
}

function closeChat(chat) {
  chat.session = null;
  chat.conversation.forget();
  state.pins.delete(chat.id);
  state.chats.delete(chat.id);
  chat.tab.remove();
  chat.panel.remove();
  const next = state.chats.keys().next();
  if (!next.done) selectTab(next.value);
  show($("no-chats"), state.chats.size === 0);
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
  if (!body || chat.ended) return;
  if (encodeMessage({ t: "text", id: "AAAAAAAAAAA", body }).length > MAX_PLAINTEXT_BYTES) return;
  input.value = "";
  window.clearTimeout(chat.typingTimer);
  sendTyping(chat, false);
  // Sent now if the visitor can receive it, else held and sent again once they are back.
  const line = addLine(chat, "from-me", S.you, body);
  const message = await chat.conversation.write(body);
  chat.lines.set(message.id, line);
  showDelivery(chat, message);
}

async function onMessage(frame) {
  const chat = state.chats.get(frame.chat);
  const session = chat && chat.session;
  if (!session || frame.epoch !== session.epoch) return;
  let opened;
  try {
    opened = await session.open(frame);
  } catch (error) {
    if (!(error instanceof ReplayedSequenceError)) addLine(chat, "system", "", S.unreadable);
    return;
  }
  if (opened.missing > 0) addLine(chat, "system", "", S.missing);
  const meaning = chat.conversation.received(opened.message);
  if (meaning.text) {
    chat.panel.querySelector(".chat-typing").textContent = "";
    addLine(chat, "from-them", S.visitor, meaning.text.body);
  }
}

function onEnded(frame) {
  state.offers.delete(frame.chat);
  renderQueue();
  const chat = state.chats.get(frame.chat);
  if (!chat) return;
  chat.ended = true;
  chat.session = null;
  const text = frame.hurry ? S.visitor_hurry : { visitor: S.visitor_left, timeout: S.ended_timeout }[frame.by] || S.ended;
  addLine(chat, "system", "", text);
  chat.panel.querySelector(".chat-typing").textContent = "";
  for (const control of chat.panel.querySelectorAll(".panel-form textarea, .panel-form button, .panel-tools button, .panel-tools select")) control.disabled = true;
  const close = el("button", { type: "button", className: "secondary", text: S.close });
  close.addEventListener("click", () => closeChat(chat));
  chat.panel.querySelector(".panel-tools").append(close);
  const form = chat.panel.querySelector(".wrapup");
  if (typeof frame.wrapup_token !== "string") {
    show(form, false);
    return;
  }
  // Ended without our wrap-up (the visitor left, or a timeout): the tab stays open with the form, which
  // now goes to the staff endpoint with the frame's one-time token instead of the socket.
  chat.wrapupToken = frame.wrapup_token;
  addLine(chat, "system", "", S.wrapup_after_end);
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
    addLine(chat, "system", "", S.wrapup_network);
    return;
  }
  if (response.ok) {
    chat.wrapupToken = null;
    closeChat(chat);
    socketStatus(S.wrapup_saved);
    return;
  }
  const answer = await response.json().catch(() => ({}));
  addLine(chat, "system", "", format(S.wrapup_failed, { message: typeof answer.error === "string" ? answer.error : String(response.status) }));
  if (response.status === 400) {
    submit.disabled = false; // the token was not used: the codes can be corrected
  } else {
    chat.wrapupToken = null; // used, expired or not ours: it will never count
    show(form, false);
  }
}

// --- wiring ----------------------------------------------------------------------------------------------

async function init() {
  if (!hasWebCrypto() || typeof WebSocket === "undefined" || typeof indexedDB === "undefined") {
    deviceStatus(S.no_webcrypto);
    return;
  }
  $("device-enrol").addEventListener("click", enrol);
  $("device-reenrol").addEventListener("click", enrol);
  $("available").addEventListener("change", (event) => {
    unlockAudio();
    if (state.socket) state.socket.send({ type: "available", on: event.target.checked });
  });
  $("sound").addEventListener("change", () => {
    unlockAudio();
    beep();
  });
  document.addEventListener("click", unlockAudio, { once: true });
  const record = await loadDevice(root.dataset.user).catch(() => null);
  if (record) {
    await checkDevice(record);
  } else {
    deviceStatus(S.enrol_needed);
    show($("device-enrol"));
  }
}

init();

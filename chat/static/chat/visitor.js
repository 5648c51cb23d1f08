// The visitor's chat page: proof of work, queue, verified handshake, encrypted messages, feedback, transcript.
//
// Keys live only in this page's memory. The one thing kept across a reload is the resume token, in this
// tab's sessionStorage: after a reload the page comes back with a fresh key and says that the secure
// session restarted. Every counsellor key is checked against the organisation key pinned in this page
// (org-key.js, loaded with an SRI hash); if that check fails the chat stops, it never falls back.
import {
  b64d,
  b64e,
  encodeMessage,
  generateChatKeyPair,
  MAX_PLAINTEXT_BYTES,
  powSolve,
  ReplayedSequenceError,
  verifyCertificate,
  verifyHandshake,
} from "./protocol.js";
import { EpochSession } from "./session.js";
import { el, format, hasWebCrypto, loadStrings, ReconnectingSocket, show, timeOfDay, websocketUrl } from "./ui.js";

const RESUME_KEY = "helpline.chat.resume";
const CLOSE_DISPLACED = 4409; // the server: this chat was resumed on another socket (another tab)
const TYPING_IDLE_MS = 3000;
const S = loadStrings("chat-strings");
const $ = (id) => document.getElementById(id);
const app = $("chat-app");

const state = {
  socket: null,
  chat: null,
  resume: null,
  keyPair: null, // {privateKey, publicRaw} of the current epoch
  vk: null,
  session: null,
  pseudonym: "",
  connectedOnce: false,
  resumed: false,
  ended: false,
  feedbackToken: null,
  transcript: [],
  sent: new Map(), // seq -> {item, body} of recent own messages, so a busy refusal can mark the right one
  typingSent: false,
  typingTimer: null,
};

// --- small view helpers -------------------------------------------------------------------

function setStatus(text, { progress = false } = {}) {
  $("chat-status").textContent = text;
  show($("chat-progress"), progress);
}

function alertMessage(text) {
  const box = $("chat-alert");
  box.textContent = text || "";
  show(box, Boolean(text));
}

function showOnly(section) {
  for (const id of ["chat-intro", "chat-waiting", "chat-room", "chat-after"]) show($(id), id === section);
}

function addLine(kind, who, text) {
  const when = new Date();
  const item = el("div", { className: `chat-line ${kind}` });
  if (who) item.append(el("span", { className: "who", text: who }), " ", el("span", { className: "time", text: timeOfDay(when) }));
  item.append(el("p", { className: "body", text }));
  $("chat-log").append(item);
  item.scrollIntoView({ block: "nearest" });
  state.transcript.push(`[${timeOfDay(when)}] ${who ? `${who}: ` : ""}${text}`);
  return item;
}

const REMEMBERED_SENT = 50;

function rememberSent(seq, item, body) {
  state.sent.set(seq, { item, body });
  if (state.sent.size > REMEMBERED_SENT) state.sent.delete(state.sent.keys().next().value);
}

// The server was too busy to pass this message on (protocol-notes S14): say so at the message itself and
// give the text back, so nothing the visitor wrote is shown as sent when it was not.
function markNotDelivered(seq) {
  const sent = state.sent.get(seq);
  if (!sent) return;
  state.sent.delete(seq);
  sent.item.classList.add("not-delivered");
  sent.item.append(el("p", { className: "delivery", text: S.not_delivered }));
  state.transcript.push(`(${S.not_delivered})`);
  const input = $("chat-input");
  if (!input.value.trim()) input.value = sent.body;
}

function notice(text) {
  addLine("system", "", text);
}

// --- keys and the pinned organisation key ----------------------------------------------------

async function orgPublicKey() {
  const link = $("org-key-module");
  // The module map already holds the integrity-checked copy that the modulepreload fetched.
  const module = await import(link.href);
  return module.ORG_PUBLIC_KEY;
}

async function freshKey() {
  state.session = null;
  state.keyPair = await generateChatKeyPair();
  state.vk = b64e(state.keyPair.publicRaw);
  return state.vk;
}

function forgetKeys() {
  state.session = null;
  state.keyPair = null;
  state.vk = null;
}

// --- starting, joining and resuming ----------------------------------------------------------

async function solveProofOfWork() {
  const response = await fetch("/chat/pow/", { credentials: "omit", cache: "no-store", headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`pow ${response.status}`);
  const challenge = await response.json();
  if (!challenge.bits) return null;
  setStatus(S.pow, { progress: true });
  const nonce = await powSolve(b64d(challenge.challenge), challenge.bits);
  setStatus(S.starting);
  return { challenge: challenge.challenge, nonce: b64e(nonce) };
}

async function sendJoin() {
  let pow = null;
  try {
    pow = await solveProofOfWork();
  } catch (error) {
    setStatus(S.error);
    return;
  }
  const frame = { type: "join", v: 1, vk: await freshKey(), lang: app.dataset.lang || "en" };
  if (pow) frame.pow = pow;
  state.socket.send(frame);
}

async function sendResume() {
  state.socket.send({ type: "resume", resume: state.resume, vk: await freshKey() });
}

function openSocket() {
  state.socket = new ReconnectingSocket(websocketUrl("/ws/visitor/"), {
    onOpen: (isReconnect) => {
      if (state.resume) {
        if (isReconnect || state.resumed) state.resumed = true;
        sendResume();
      } else {
        sendJoin();
      }
    },
    onFrame: (frame) => handleFrame(frame).catch(() => notice(S.error)),
    onDown: (event) => {
      if (state.ended) return false;
      forgetKeys();
      if (event.code === CLOSE_DISPLACED) {
        state.ended = true;
        showOnly("chat-intro");
        alertMessage(S.displaced);
        return false;
      }
      if (state.connectedOnce) notice(S.reconnecting);
      else setStatus(S.reconnecting);
      return true;
    },
  });
  state.socket.start();
}

function start() {
  alertMessage("");
  state.ended = false;
  state.transcript = [];
  $("chat-log").replaceChildren();
  showOnly("chat-waiting");
  setStatus(S.starting);
  $("chat-waiting-heading").focus?.();
  openSocket();
}

function resumeAfterReload(token) {
  state.resume = token;
  state.resumed = true;
  showOnly("chat-waiting");
  setStatus(S.starting);
  openSocket();
}

// --- frames from the server --------------------------------------------------------------------

async function handleFrame(frame) {
  switch (frame.type) {
    case "queued":
      return onQueued(frame);
    case "connected":
      return onConnected(frame);
    case "msg":
      return onMessage(frame);
    case "typing":
      $("chat-typing").textContent = frame.on ? format(S.typing, { name: state.pseudonym }) : "";
      return undefined;
    case "ended":
      return onEnded(frame);
    case "error":
      return onError(frame);
    default:
      return undefined; // kinds this page does not know are ignored
  }
}

function onQueued(frame) {
  state.chat = frame.chat;
  if (typeof frame.resume === "string") {
    state.resume = frame.resume;
    sessionStorage.setItem(RESUME_KEY, frame.resume);
  }
  if (!frame.position) return; // 0: not in the queue; the counsellor is making a new key with us
  const text = frame.position === 1 ? S.queued_next : format(S.queued, { position: frame.position });
  if (state.connectedOnce) {
    notice(text);
  } else {
    showOnly("chat-waiting");
    setStatus(text);
  }
}

async function onConnected(frame) {
  const refuse = () => {
    // Never fall back to a key we could not verify: stop, and say so.
    forgetKeys();
    state.ended = true;
    sessionStorage.removeItem(RESUME_KEY);
    if (state.socket) {
      state.socket.send({ type: "leave", chat: frame.chat });
      state.socket.stop();
    }
    showOnly("chat-intro");
    alertMessage(S.refused);
  };
  if (!state.keyPair || (state.chat && frame.chat !== state.chat)) return refuse();
  let certified;
  try {
    certified = await verifyCertificate(frame.cert, await orgPublicKey());
  } catch (error) {
    return refuse();
  }
  if (!(await verifyHandshake(certified, frame.chat, frame.epoch, state.vk, frame.ck, frame.sig))) return refuse();
  try {
    state.session = await EpochSession.derive("visitor", frame.chat, frame.epoch, state.keyPair.privateKey, state.vk, frame.ck);
  } catch (error) {
    return refuse();
  }
  state.chat = frame.chat;
  state.pseudonym = certified.pseudonym;
  $("chat-peer").textContent = format(S.connected, { name: certified.pseudonym });
  $("chat-safety-code").textContent = state.session.safetyCode;
  showOnly("chat-room");
  alertMessage("");
  if (state.connectedOnce || state.resumed) notice(S.restarted);
  state.connectedOnce = true;
  state.resumed = false;
  $("chat-input").focus();
  return undefined;
}

async function onMessage(frame) {
  const session = state.session;
  if (!session || frame.chat !== session.chat || frame.epoch !== session.epoch) return;
  let opened;
  try {
    opened = await session.open(frame);
  } catch (error) {
    if (!(error instanceof ReplayedSequenceError)) notice(S.unreadable);
    return;
  }
  if (opened.missing > 0) notice(S.missing);
  $("chat-typing").textContent = "";
  if (opened.message.t === "text" && typeof opened.message.body === "string") {
    addLine("from-them", state.pseudonym, opened.message.body);
  }
}

function onEnded(frame) {
  state.ended = true;
  forgetKeys();
  sessionStorage.removeItem(RESUME_KEY);
  state.resume = null;
  if (state.socket) state.socket.stop();
  state.feedbackToken = typeof frame.feedback === "string" ? frame.feedback : null;
  const reason = { visitor: S.ended_visitor, counsellor: S.ended_counsellor, timeout: S.ended_timeout }[frame.by] || S.ended_counsellor;
  $("chat-ended-reason").textContent = reason;
  if (state.transcript.length) state.transcript.push(reason);
  $("chat-typing").textContent = "";
  show($("chat-feedback"), Boolean(state.feedbackToken));
  show($("chat-save"), state.transcript.length > 0);
  showOnly("chat-after");
  $("chat-after-heading").focus?.();
}

function onError(frame) {
  const stopWith = (text) => {
    state.ended = true;
    forgetKeys();
    if (state.socket) state.socket.stop();
    showOnly("chat-intro");
    alertMessage(text);
  };
  if (frame.code === "rate_limited" && Number.isInteger(frame.seq) && frame.chat === state.chat) {
    return markNotDelivered(frame.seq);
  }
  switch (frame.code) {
    case "closed":
      return stopWith(S.closed);
    case "queue_full":
      return stopWith(S.queue_full);
    case "rate_limited":
      return stopWith(S.rate_limited);
    case "pow_required":
    case "pow_invalid":
      return sendJoin();
    case "resume_invalid":
    case "unknown_chat":
      sessionStorage.removeItem(RESUME_KEY);
      state.resume = null;
      return stopWith(S.resume_invalid);
    default:
      if (!state.connectedOnce) setStatus(S.error);
      return undefined;
  }
}

// --- what the visitor does ----------------------------------------------------------------------

function sendTyping(on) {
  if (!state.chat || state.typingSent === on || !state.socket) return;
  state.typingSent = on;
  state.socket.send({ type: "typing", chat: state.chat, on });
}

async function sendMessage(event) {
  event.preventDefault();
  const input = $("chat-input");
  const body = input.value.trim();
  if (!body) return;
  if (encodeMessage({ t: "text", body }).length > MAX_PLAINTEXT_BYTES) {
    notice(S.too_long);
    return;
  }
  if (!state.session || !state.socket || !state.socket.isOpen) {
    notice(S.not_sent);
    return;
  }
  const frame = await state.session.seal({ t: "text", body });
  if (!state.socket.send(frame)) {
    notice(S.not_sent);
    return;
  }
  input.value = "";
  window.clearTimeout(state.typingTimer);
  sendTyping(false);
  rememberSent(frame.seq, addLine("from-me", S.you, body), body);
}

function leave() {
  if (state.chat && state.socket && state.socket.send({ type: "leave", chat: state.chat })) return;
  onEnded({ by: "visitor" });
}

function cancelWaiting() {
  if (state.chat && state.socket && state.socket.send({ type: "leave", chat: state.chat })) return;
  state.ended = true;
  if (state.socket) state.socket.stop();
  sessionStorage.removeItem(RESUME_KEY);
  state.resume = null;
  showOnly("chat-intro");
}

async function sendFeedback(event) {
  event.preventDefault();
  const form = $("chat-feedback");
  const rating = form.querySelector("input[name=rating]:checked");
  const helped = form.querySelector("input[name=helped]:checked");
  const next = [...form.querySelectorAll("input[name=next]:checked")].map((box) => box.value);
  if (!state.feedbackToken || (!rating && !helped && next.length === 0)) return;
  const token = state.feedbackToken;
  state.feedbackToken = null;
  let ok = false;
  try {
    const response = await fetch("/chat/feedback/", {
      method: "POST",
      credentials: "omit",
      headers: { "Content-Type": "application/json" },
      // Only codes: "yes" / "unsure" / "no" and the ticked next steps; each becomes a separate counter.
      body: JSON.stringify({ feedback: token, rating: rating ? Number(rating.value) : null, helped: helped ? helped.value : null,
        ...(next.length ? { next } : {}) }),
    });
    ok = response.ok;
  } catch (error) {
    ok = false;
  }
  for (const input of form.querySelectorAll("input, button")) input.disabled = true;
  $("chat-feedback-status").textContent = ok ? S.feedback_thanks : S.feedback_failed;
}

function saveTranscript() {
  // Made here, in the browser: the server never had the text to make it from.
  const text = [S.transcript_header, "", ...state.transcript, ""].join("\n");
  const url = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
  const link = el("a", { href: url, download: S.transcript_file });
  document.body.append(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function startAgain() {
  for (const input of $("chat-feedback").querySelectorAll("input, button")) input.disabled = false;
  $("chat-feedback").reset();
  $("chat-feedback-status").textContent = "";
  state.chat = null;
  state.connectedOnce = false;
  state.resumed = false;
  start();
}

// --- wiring ----------------------------------------------------------------------------------

function init() {
  if (!$("chat-start")) return; // the chat is not set up on this server: the page says so
  if (!hasWebCrypto() || typeof WebSocket === "undefined") {
    $("chat-unsupported").textContent = S.no_webcrypto;
    show($("chat-unsupported"));
    return;
  }
  show($("chat-start"));
  $("chat-start").addEventListener("click", start);
  $("chat-cancel").addEventListener("click", cancelWaiting);
  $("chat-form").addEventListener("submit", sendMessage);
  $("chat-leave").addEventListener("click", leave);
  $("chat-feedback").addEventListener("submit", sendFeedback);
  $("chat-save").addEventListener("click", saveTranscript);
  $("chat-again").addEventListener("click", startAgain);
  const input = $("chat-input");
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("chat-form").requestSubmit();
    }
  });
  input.addEventListener("input", () => {
    sendTyping(input.value.length > 0);
    window.clearTimeout(state.typingTimer);
    state.typingTimer = window.setTimeout(() => sendTyping(false), TYPING_IDLE_MS);
  });
  const token = sessionStorage.getItem(RESUME_KEY);
  if (token) resumeAfterReload(token);
}

init();

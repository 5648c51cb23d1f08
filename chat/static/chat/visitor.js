// The visitor's chat page: proof of work, queue, verified handshake, encrypted messages with delivery state,
// a truthful state line, quick exit, feedback, transcript.
//
// Keys live in this page's memory. What is kept across a reload is the resume token and the chat's identity key
// (docs/protocol.md §3), in this tab's sessionStorage: gone with the tab, and wiped when the chat ends or the
// visitor leaves with quick exit. After a reload the page comes back with a fresh epoch key signed by the same
// identity key. Every counsellor key is checked against the organisation key pinned in this page (org-key.js);
// if that check fails the chat stops, it never falls back.
import {
  b64d,
  b64e,
  encodeMessage,
  exportIdentityKey,
  generateChatKeyPair,
  generateIdentityKeyPair,
  importIdentityKey,
  MAX_PLAINTEXT_BYTES,
  ReplayedSequenceError,
  signVisitorKey,
  verifyCertificate,
  verifyHandshake,
  workSolve,
} from "./protocol.js";
import { Conversation } from "./conversation.js";
import { EpochSession } from "./session.js";
import { Chime, el, format, hasWebCrypto, loadStrings, ReconnectingSocket, show, showDeliveryAt, timeOfDay, websocketUrl } from "./ui.js";

const STORED_KEY = "helpline.chat.resume"; // {resume, identity: {jwk, ik}} in sessionStorage
const CLOSE_DISPLACED = 4409; // the server: this chat was resumed on another socket (another tab)
const TYPING_IDLE_MS = 3000;
// A text with neither a receipt nor a refusal after this long, and nothing else heard meanwhile, went into a dead
// link: start a new socket (the text is held and sent again under the new epoch), so the page stops saying
// "Connected" while nothing arrives. Only while the page is in view, and not in the first seconds after it came
// back into view: a phone freezes a page in the background, and what arrived meanwhile is handled first.
const RECEIPT_OVERDUE_MS = 20000;
const S = loadStrings("chat-strings");
const $ = (id) => document.getElementById(id);
const app = $("chat-app");

const state = {
  socket: null,
  chat: null,
  resume: null,
  identity: null, // {privateKey, publicRaw}: the chat's identity key, for its whole life
  keyPair: null, // {privateKey, publicRaw} of the current epoch
  vk: null,
  session: null,
  pseudonym: "",
  device: null, // the counsellor device this visitor first talked to (docs/protocol.md §5)
  connectedOnce: false,
  resumed: false,
  ended: false,
  inChat: false, // between the first connected and the end: leaving the page would lose the conversation
  feedbackToken: null,
  transcript: [],
  lines: new Map(), // message id -> its line in the log
  typingSent: false,
  typingTimer: null,
  unseen: 0,
  baseTitle: document.title,
};
const chime = new Chime();

const conversation = new Conversation({
  session: () => state.session,
  send: (frame) => Boolean(state.socket) && state.socket.send(frame),
  changed: (item) => showDelivery(item),
});

// --- small view helpers -------------------------------------------------------------------

function setStatus(text, { progress = false } = {}) {
  $("chat-status").textContent = text;
  show($("chat-progress"), progress);
}

/** The line above the conversation that says, truthfully, who can hear the visitor now. */
function setState(kind, text) {
  const line = $("chat-state");
  line.textContent = text;
  line.dataset.state = kind;
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
  item.transcriptAt = state.transcript.length - 1; // where a text never delivered is marked in the saved copy
  return item;
}

function notice(text) {
  addLine("system", "", text);
}

/** Show a text's delivery state at the text itself; a final one after the end is marked in the saved copy too. */
function showDelivery(message) {
  const line = state.lines.get(message.id);
  if (!line) return;
  const ended = showDeliveryAt(line, message, S);
  if (ended && Number.isInteger(line.transcriptAt)) state.transcript[line.transcriptAt] += ` (${ended})`;
}

// --- cues when the counsellor joins or writes while the visitor looks elsewhere ------------------

function cue(kind) {
  if (document.hidden) {
    state.unseen += 1;
    document.title = `(${state.unseen}) ${kind === "joined" ? S.title_joined : S.title_message} – ${state.baseTitle}`;
  }
  if ($("chat-sound").checked) chime.play(kind === "joined" ? 660 : 880, 0.15);
}

function unlockAudio() {
  chime.unlock();
}

document.addEventListener("visibilitychange", () => {
  if (!document.hidden) {
    state.unseen = 0;
    document.title = state.baseTitle;
  }
});

// --- keys, the pinned organisation key, and what this tab keeps ---------------------------------

async function orgPublicKey() {
  const link = $("org-key-module");
  // The module map already holds the integrity-checked copy that the modulepreload fetched.
  const module = await import(link.href);
  return module.ORG_PUBLIC_KEY;
}

async function freshKeys() {
  state.session = null;
  if (!state.identity) state.identity = await generateIdentityKeyPair();
  state.keyPair = await generateChatKeyPair();
  state.vk = b64e(state.keyPair.publicRaw);
  const ik = b64e(state.identity.publicRaw);
  return { vk: state.vk, ik, vsig: await signVisitorKey(state.identity.privateKey, ik, state.vk) };
}

function forgetKeys() {
  state.session = null;
  state.keyPair = null;
  state.vk = null;
}

async function remember() {
  if (!state.resume || !state.identity) return;
  sessionStorage.setItem(STORED_KEY, JSON.stringify({ resume: state.resume, identity: await exportIdentityKey(state.identity) }));
}

function forgetStored() {
  sessionStorage.removeItem(STORED_KEY);
  state.resume = null;
  state.identity = null;
}

async function stored() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORED_KEY) || "null");
    if (!saved || typeof saved.resume !== "string" || !saved.identity) return null;
    return { resume: saved.resume, identity: await importIdentityKey(saved.identity) };
  } catch (error) {
    sessionStorage.removeItem(STORED_KEY);
    return null;
  }
}

// --- starting, joining and resuming ----------------------------------------------------------

async function fetchChallenge() {
  const response = await fetch("/chat/pow/", { credentials: "omit", cache: "no-store", headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`pow ${response.status}`);
  return response.json();
}

// The join's challenge, asked for while the socket opens (a join challenge is good for minutes, protocol.md
// §9): the visitor waits for the slower of the two, not for one after the other. Used once.
let challengeAsked = null;

function askChallengeEarly() {
  challengeAsked = fetchChallenge();
  challengeAsked.catch(() => {}); // a failure is met (and shown) when the join needs the challenge
}

// The PBKDF2 puzzle of protocol.md §9; bits 0: joining is free now.
async function solveProofOfWork() {
  const asked = challengeAsked;
  challengeAsked = null;
  const challenge = await (asked || fetchChallenge());
  if (!challenge.bits) return null;
  setStatus(S.pow, { progress: true });
  const nonce = await workSolve(b64d(challenge.challenge), challenge.iterations, challenge.bits);
  setStatus(S.starting);
  return { challenge: challenge.challenge, nonce: b64e(nonce) };
}

// --- rent: while the queue is busy, the server asks for a fresh puzzle now and then to keep our place ------

const rent = { abort: null, waitingText: "" };

function stopRent() {
  rent.abort?.abort();
  rent.abort = null;
}

async function onRent(frame) {
  if (frame.chat !== state.chat || !state.socket) return;
  stopRent(); // a newer request replaces an unfinished one
  const abort = new AbortController();
  rent.abort = abort;
  if (!state.connectedOnce) setStatus(`${rent.waitingText} ${S.keeping_place}`.trim(), { progress: true });
  try {
    const nonce = await workSolve(b64d(frame.challenge), frame.iterations, frame.bits, { signal: abort.signal });
    if (!abort.signal.aborted && frame.chat === state.chat && state.socket) {
      state.socket.send({ type: "rent", chat: frame.chat, pow: { challenge: frame.challenge, nonce: b64e(nonce) } });
    }
  } catch (error) {
    return; // cancelled: a newer request came, or the chat moved on
  } finally {
    if (rent.abort === abort) {
      rent.abort = null;
      if (!state.connectedOnce && rent.waitingText) setStatus(rent.waitingText);
    }
  }
}

async function sendJoin() {
  let pow = null;
  try {
    pow = await solveProofOfWork();
  } catch (error) {
    setStatus(S.error);
    return;
  }
  state.identity = null; // a new chat, a new identity
  const frame = { type: "join", v: 2, ...(await freshKeys()), lang: app.dataset.lang || "en" };
  if (pow) frame.pow = pow;
  state.socket.send(frame);
}

async function sendResume() {
  state.socket.send({ type: "resume", resume: state.resume, ...(await freshKeys()) });
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
      stopRent();
      forgetKeys();
      conversation.holdUnconfirmed();
      if (event.code === CLOSE_DISPLACED) {
        endHere(S.displaced);
        return false;
      }
      if (state.connectedOnce) setState("reconnecting", S.state_reconnecting);
      else setStatus(S.reconnecting);
      return true;
    },
  });
  state.socket.start();
}

function start() {
  alertMessage("");
  unlockAudio();
  state.ended = false;
  state.transcript = [];
  state.lines.clear();
  conversation.forget();
  $("chat-log").replaceChildren();
  showOnly("chat-waiting");
  setStatus(S.starting);
  $("chat-waiting-heading").focus?.();
  askChallengeEarly();
  openSocket();
}

function resumeAfterReload(saved) {
  state.resume = saved.resume;
  state.identity = saved.identity;
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
    case "presence":
      return onPresence(frame);
    case "msg":
      return onMessage(frame);
    case "typing":
      $("chat-typing").textContent = frame.on ? format(S.typing, { name: state.pseudonym }) : "";
      return undefined;
    case "ended":
      return onEnded(frame);
    case "error":
      return onError(frame);
    case "rent":
      return onRent(frame);
    default:
      return undefined; // kinds this page does not know are ignored
  }
}

async function onQueued(frame) {
  state.chat = frame.chat;
  if (typeof frame.resume === "string") {
    state.resume = frame.resume;
    await remember();
  }
  if (!frame.position) return; // 0: a counsellor holds the chat and is making a new key with us
  const place = frame.position === 1 ? S.queued_next : format(S.queued, { position: frame.position });
  rent.waitingText = place;
  if (state.connectedOnce) {
    // Back in the queue during a chat: say why, keep the conversation on screen, hold what is typed.
    conversation.holdUnconfirmed();
    state.session = null;
    const why = { handover: S.state_handover, requeued: S.state_requeued }[frame.reason] || S.state_queued;
    setState("queued", `${why} ${place}`);
  } else {
    showOnly("chat-waiting");
    setStatus(rent.abort ? `${place} ${S.keeping_place}` : place, { progress: Boolean(rent.abort) });
  }
}

function onPresence(frame) {
  if (frame.chat !== state.chat || frame.peer !== "away") return;
  // Nobody receives what is sent now: say so at once, and hold it until the counsellor is back.
  state.session = null;
  conversation.holdUnconfirmed();
  setState("away", S.state_counsellor_away);
}

async function onConnected(frame) {
  const refuse = () => {
    // Never fall back to a key we could not verify: stop, and say so.
    if (state.socket) {
      state.socket.send({ type: "leave", chat: frame.chat });
      state.socket.stop();
    }
    endHere(S.refused);
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
  stopRent();
  const someoneElse = state.device !== null && state.device !== certified.device;
  state.chat = frame.chat;
  state.device = certified.device;
  state.pseudonym = certified.pseudonym;
  $("chat-peer").textContent = format(S.connected, { name: certified.pseudonym });
  $("chat-safety-code").textContent = state.session.safetyCode;
  setState("connected", format(S.state_connected, { name: certified.pseudonym }));
  showOnly("chat-room");
  alertMessage("");
  if (someoneElse) notice(format(S.someone_else, { name: certified.pseudonym }));
  // After a reload the earlier messages are gone from the page; after a reconnect within it they are still shown.
  else if (state.resumed && !state.connectedOnce) notice(S.restarted);
  else if (state.connectedOnce) notice(S.reconnected);
  if (!state.connectedOnce) cue("joined");
  state.connectedOnce = true;
  state.inChat = true;
  state.resumed = false;
  $("chat-input").focus();
  await conversation.resendPending();
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
  const meaning = conversation.received(opened.message);
  if (meaning.text) {
    $("chat-typing").textContent = "";
    addLine("from-them", state.pseudonym, meaning.text.body);
    cue("message");
  }
}

/** The chat is over for this tab: nothing of it stays in the tab's storage; the conversation stays on screen. */
function endHere(alertText) {
  stopRent();
  state.ended = true;
  state.inChat = false;
  forgetKeys();
  forgetStored();
  if (state.socket) state.socket.stop();
  if (alertText) {
    showOnly(state.connectedOnce ? "chat-after" : "chat-intro");
    if (state.connectedOnce) show($("chat-room"));
    alertMessage(alertText);
  }
}

function onEnded(frame) {
  endHere();
  state.feedbackToken = typeof frame.feedback === "string" ? frame.feedback : null;
  const reason = { visitor: S.ended_visitor, counsellor: S.ended_counsellor, timeout: S.ended_timeout }[frame.by] || S.ended_counsellor;
  $("chat-ended-reason").textContent = reason;
  if (state.transcript.length) state.transcript.push(reason);
  $("chat-typing").textContent = "";
  const unsent = conversation.ended().length;
  show($("chat-unsent"), unsent > 0);
  show($("chat-feedback"), Boolean(state.feedbackToken));
  show($("chat-keep-copy"), state.transcript.length > 0); // nothing said (e.g. "Stop waiting"): nothing to keep
  showOnly("chat-after");
  // The conversation stays on the screen, read-only, above what comes next.
  if (state.connectedOnce) {
    show($("chat-room"));
    show($("chat-form"), false);
    setState("ended", reason);
  }
  $("chat-after-heading").focus?.();
}

function onError(frame) {
  const stopWith = (text) => endHere(text);
  if (Number.isInteger(frame.seq) && frame.chat === state.chat && (frame.code === "undelivered" || frame.code === "rate_limited")) {
    conversation.refused(frame.seq, { busy: frame.code === "rate_limited" });
    return undefined;
  }
  switch (frame.code) {
    case "closed":
      show($("chat-closed"));
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
      return stopWith(S.resume_invalid);
    default:
      if (!state.connectedOnce) setStatus(S.error);
      return undefined;
  }
}

// --- what the visitor does ----------------------------------------------------------------------

function sendTyping(on) {
  if (!state.chat || state.typingSent === on || !state.socket || !state.session) return;
  state.typingSent = on;
  state.socket.send({ type: "typing", chat: state.chat, on });
}

async function sendMessage(event) {
  event.preventDefault();
  const input = $("chat-input");
  const body = input.value.trim();
  if (!body || state.ended) return;
  if (encodeMessage({ t: "text", id: "AAAAAAAAAAA", body }).length > MAX_PLAINTEXT_BYTES) {
    notice(S.too_long);
    return;
  }
  input.value = "";
  window.clearTimeout(state.typingTimer);
  sendTyping(false);
  // The line is there at once; the conversation sends the text now if anyone can receive it, else holds it.
  const placeholder = addLine("from-me", S.you, body);
  const item = await conversation.write(body);
  state.lines.set(item.id, placeholder);
  showDelivery(item);
}

function confirmLeave() {
  $("chat-leave-dialog").showModal();
}

function leave() {
  $("chat-leave-dialog").close();
  if (state.chat && state.socket && state.socket.send({ type: "leave", chat: state.chat })) return;
  onEnded({ by: "visitor" });
}

/** Quick exit (helpline/static/helpline/quick-exit.js) during a chat: end it for this tab, at once. */
function quickExit() {
  if (state.chat && state.socket && !state.ended) state.socket.send({ type: "leave", chat: state.chat, hurry: true }, { now: true });
  state.inChat = false;
  forgetStored();
}

function cancelWaiting() {
  if (state.chat && state.socket && state.socket.send({ type: "leave", chat: state.chat })) return;
  endHere();
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
  show($("chat-form"));
  state.chat = null;
  state.device = null;
  state.connectedOnce = false;
  state.resumed = false;
  start();
}

// --- wiring ----------------------------------------------------------------------------------

async function init() {
  if (!$("chat-start")) return; // the chat is not set up on this server: the page says so
  if (!hasWebCrypto() || typeof WebSocket === "undefined") {
    $("chat-unsupported").textContent = S.no_webcrypto;
    show($("chat-unsupported"));
    return;
  }
  show($("chat-start"), app.dataset.chatOpen !== "no"); // closed: the page shows the alternatives instead
  $("chat-start").addEventListener("click", start);
  $("chat-cancel").addEventListener("click", cancelWaiting);
  $("chat-form").addEventListener("submit", sendMessage);
  $("chat-leave").addEventListener("click", confirmLeave);
  $("chat-leave-confirm").addEventListener("click", leave);
  $("chat-leave-keep").addEventListener("click", () => $("chat-leave-dialog").close());
  $("chat-feedback").addEventListener("submit", sendFeedback);
  $("chat-save").addEventListener("click", saveTranscript);
  $("chat-again").addEventListener("click", startAgain);
  $("chat-sound").addEventListener("change", unlockAudio);
  document.addEventListener("helpline:quick-exit", quickExit);
  window.addEventListener("beforeunload", (event) => {
    // Leaving now would take the conversation off this screen (the server keeps none of it).
    if (!state.inChat) return;
    event.preventDefault();
    event.returnValue = "";
  });
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
  let inViewSince = performance.now();
  document.addEventListener("visibilitychange", () => {
    inViewSince = performance.now();
  });
  window.setInterval(() => {
    if (document.hidden || performance.now() - inViewSince < RECEIPT_OVERDUE_MS / 4) return;
    if (!state.socket || !state.session || state.ended || !conversation.overdue(RECEIPT_OVERDUE_MS)) return;
    if (state.socket.silentFor(RECEIPT_OVERDUE_MS)) state.socket.restart();
  }, RECEIPT_OVERDUE_MS / 4);
  const saved = await stored();
  if (saved) resumeAfterReload(saved);
}

init();

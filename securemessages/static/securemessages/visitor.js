// The visitor's mailbox page: write a message, get a codename, come back with it, read, answer, delete.
//
// Everything is encrypted and decrypted here (mailbox.js). The codename and the keys made from it live only
// in this page's memory; nothing is written to storage. Every counsellor device a message is sealed to is
// checked against the organisation key pinned in this page (org-key.js, with an SRI hash), and every answer's
// signature against the certificate of the device that wrote it: what does not verify is not shown.
import { b64d, b64e, MAX_PLAINTEXT_BYTES, encodeMessage, powSolve } from "../chat/protocol.js";
import { el, format, hasWebCrypto, loadStrings, show } from "../chat/ui.js";
import {
  buildEnvelope,
  checkMessageSender,
  deriveCodenameKeys,
  ENVELOPE_VERSION,
  makeCodename,
  normaliseCodename,
  openEnvelope,
  verifiedTeam,
  VISITOR,
} from "./mailbox.js";
import { RequestFailed, requestJson } from "./http.js";
import { WORDS as WORDS_EN } from "./words-en.js";
import { WORDS as WORDS_NL } from "./words-nl.js";

const S = loadStrings("mailbox-strings");
const $ = (id) => document.getElementById(id);
const app = $("mailbox-app");
const lang = app.dataset.lang === "nl" ? "nl" : "en";
const WORDS = { en: WORDS_EN, nl: WORDS_NL };
const KNOWN_WORDS = new Set([...WORDS_EN, ...WORDS_NL]);
const CODENAME_WORDS = Number(app.dataset.codenameWords) || 8;
const SECTIONS = ["mailbox-start", "mailbox-write", "mailbox-codename", "mailbox-return", "mailbox-thread", "mailbox-deleted"];

const state = { keys: null, thread: null, busy: false };

// --- small helpers ---------------------------------------------------------------------------------------

function showOnly(id) {
  for (const section of SECTIONS) show($(section), section === id);
  const heading = $(id).querySelector("h2[tabindex]");
  if (heading) heading.focus();
}

function alertMessage(text) {
  $("mailbox-alert").textContent = text || "";
  show($("mailbox-alert"), Boolean(text));
}

const request = (method, path, body) => requestJson(method, path, body, { networkMessage: S.network });

async function orgPublicKey() {
  // The module map already holds the integrity-checked copy the modulepreload fetched.
  return (await import($("org-key-module").href)).ORG_PUBLIC_KEY;
}

async function proofOfWork(status) {
  const { challenge, bits } = await request("GET", "/mailbox/pow/");
  if (bits > 0) status(S.pow);
  const nonce = await powSolve(b64d(challenge), bits);
  return { challenge, nonce: b64e(nonce) };
}

class NoTeam extends Error {}

/** The message sealed to the mailbox and to every team device that verifies, and a solved proof of work. */
async function sealed(keys, text, status) {
  status(S.encrypting);
  const { devices } = await request("GET", "/mailbox/team/");
  const team = await verifiedTeam(devices, await orgPublicKey());
  if (!team.length) throw new NoTeam();
  const recipients = new Map([["mailbox", keys.mkRaw], ...team.map((member) => [member.device, member.ekRaw])]);
  const msg = await buildEnvelope(keys.thread, VISITOR, keys.signKey, { t: "text", body: text }, recipients);
  return { msg, pow: await proofOfWork(status) };
}

function tooLong(text) {
  return encodeMessage({ t: "text", body: text }).length > MAX_PLAINTEXT_BYTES;
}

function failureText(error) {
  if (error instanceof NoTeam) return S.no_team;
  if (error instanceof RequestFailed && error.status === 0) return S.network;
  if (error instanceof RequestFailed && error.answer.error === "thread_full") return S.thread_full;
  return S.failed;
}

function dayLabel(isoDay) {
  const [year, month, day] = isoDay.split("-").map(Number);
  return new Date(Date.UTC(year, month - 1, day)).toLocaleDateString(lang, { day: "numeric", month: "long", year: "numeric", timeZone: "UTC" });
}

// --- writing a new message ----------------------------------------------------------------------------------

async function sendFirst(event) {
  event.preventDefault();
  if (state.busy) return;
  const text = $("mailbox-text").value.trim();
  const status = (line) => { $("mailbox-write-status").textContent = line; };
  if (!text) return;
  if (tooLong(text)) return status(S.too_long);
  state.busy = true;
  $("mailbox-send").disabled = true;
  alertMessage("");
  try {
    status(S.encrypting);
    const codename = makeCodename(WORDS[lang], CODENAME_WORDS);
    const keys = await deriveCodenameKeys(codename);
    const { msg, pow } = await sealed(keys, text, status);
    status(S.sending);
    await request("POST", "/mailbox/threads/", {
      v: ENVELOPE_VERSION, thread: keys.thread, access: keys.accessB64, lang, mk: keys.mk, sk: keys.sk, msg, pow,
    });
    state.keys = keys;
    $("mailbox-text").value = "";
    status("");
    $("mailbox-codename-words").textContent = codename;
    $("mailbox-noted").checked = false;
    $("mailbox-codename-done").disabled = true;
    $("mailbox-copy-status").textContent = "";
    showOnly("mailbox-codename");
  } catch (error) {
    status("");
    alertMessage(failureText(error));
  } finally {
    state.busy = false;
    $("mailbox-send").disabled = false;
  }
}

async function copyCodename() {
  try {
    await navigator.clipboard.writeText($("mailbox-codename-words").textContent);
    $("mailbox-copy-status").textContent = S.copied;
  } catch (error) {
    $("mailbox-copy-status").textContent = S.copy_failed;
  }
}

// --- coming back ------------------------------------------------------------------------------------------------

function codenameProblem(normalised) {
  const words = normalised ? normalised.split(" ") : [];
  if (words.length !== CODENAME_WORDS) return format(S.codename_words, { count: CODENAME_WORDS });
  const unknown = words.filter((word) => !KNOWN_WORDS.has(word));
  return unknown.length ? format(S.codename_unknown, { words: unknown.join(", ") }) : "";
}

async function openWithCodename(event) {
  event.preventDefault();
  if (state.busy) return;
  const status = (line) => { $("mailbox-open-status").textContent = line; };
  const normalised = normaliseCodename($("mailbox-codename-input").value);
  const problem = codenameProblem(normalised);
  alertMessage("");
  if (problem) return status(problem);
  state.busy = true;
  $("mailbox-open").disabled = true;
  try {
    status(S.opening);
    const keys = await deriveCodenameKeys(normalised);
    const thread = await fetchThread(keys, status);
    if (!thread) {
      status(format(S.not_found, { days: app.dataset.retentionDays }));
      return;
    }
    state.keys = keys;
    $("mailbox-codename-input").value = "";
    status("");
    await showThread(thread);
  } catch (error) {
    status("");
    alertMessage(failureText(error));
  } finally {
    state.busy = false;
    $("mailbox-open").disabled = false;
  }
}

async function fetchThread(keys, status) {
  const pow = await proofOfWork(status);
  try {
    return await request("POST", "/mailbox/open/", { access: keys.accessB64, pow });
  } catch (error) {
    if (error instanceof RequestFailed && error.status === 404) return null;
    throw error;
  }
}

async function showThread(thread) {
  const keys = state.keys;
  // The server must give back the thread these words make, with their keys; anything else is refused.
  if (thread.thread !== keys.thread || thread.mk !== keys.mk || thread.sk !== keys.sk) {
    alertMessage(S.refused_server);
    return;
  }
  state.thread = thread;
  const orgKey = await orgPublicKey();
  const log = $("mailbox-log");
  log.replaceChildren();
  for (const message of thread.messages) {
    const item = el("div", { className: `chat-line ${message.from === VISITOR ? "from-me" : "from-them"}` });
    const sender = await checkMessageSender(message, thread.thread, thread.sk, orgKey);
    let body;
    if (!sender.ok) {
      body = S.unverified;
    } else {
      try {
        body = (await openEnvelope(message, thread.thread, "mailbox", keys.boxKey, keys.mkRaw)).body;
      } catch (error) {
        body = S.unreadable;
      }
    }
    const who = message.from === VISITOR ? S.you : format(S.counsellor, { name: sender.pseudonym });
    item.append(el("span", { className: "who", text: sender.ok ? who : "" }), " ",
      el("span", { className: "day", text: dayLabel(message.day) }), el("p", { className: "body", text: String(body ?? "") }));
    log.append(item);
  }
  const days = app.dataset.replyDays;
  $("mailbox-thread-state").textContent = format(S[`state_${thread.state}`] || "", { days });
  $("mailbox-thread-expires").textContent = format(S.expires, { date: dayLabel(thread.expires) });
  show($("mailbox-delete-confirm"), false);
  showOnly("mailbox-thread");
}

async function sendReply(event) {
  event.preventDefault();
  if (state.busy || !state.keys) return;
  const text = $("mailbox-reply-text").value.trim();
  const status = (line) => { $("mailbox-reply-status").textContent = line; };
  if (!text) return;
  if (tooLong(text)) return status(S.too_long);
  state.busy = true;
  $("mailbox-reply-send").disabled = true;
  try {
    const keys = state.keys;
    const { msg, pow } = await sealed(keys, text, status);
    status(S.sending);
    await request("POST", "/mailbox/reply/", { access: keys.accessB64, pow, msg });
    $("mailbox-reply-text").value = "";
    const thread = await fetchThread(keys, status);
    status(S.sent);
    if (thread) await showThread(thread);
  } catch (error) {
    status("");
    alertMessage(failureText(error));
  } finally {
    state.busy = false;
    $("mailbox-reply-send").disabled = false;
  }
}

async function deleteThread() {
  if (state.busy || !state.keys) return;
  state.busy = true;
  try {
    const pow = await proofOfWork(() => {});
    await request("POST", "/mailbox/delete/", { access: state.keys.accessB64, pow });
    forget();
    showOnly("mailbox-deleted");
  } catch (error) {
    if (error instanceof RequestFailed && error.status === 404) {
      forget();
      showOnly("mailbox-deleted");
    } else {
      alertMessage(failureText(error));
    }
  } finally {
    state.busy = false;
  }
}

function forget() {
  state.keys = null;
  state.thread = null;
  $("mailbox-log").replaceChildren();
}

// --- wiring ---------------------------------------------------------------------------------------------------------

function start() {
  if (!hasWebCrypto() || typeof BigInt !== "function") {
    $("mailbox-unsupported").textContent = S.no_webcrypto;
    show($("mailbox-unsupported"));
    return;
  }
  if (!$("mailbox-new")) return;
  $("mailbox-new").addEventListener("click", () => showOnly("mailbox-write"));
  $("mailbox-have-codename").addEventListener("click", () => showOnly("mailbox-return"));
  $("mailbox-write-back").addEventListener("click", () => showOnly("mailbox-start"));
  $("mailbox-return-back").addEventListener("click", () => showOnly("mailbox-start"));
  $("mailbox-write-form").addEventListener("submit", sendFirst);
  $("mailbox-copy").addEventListener("click", copyCodename);
  $("mailbox-noted").addEventListener("change", () => { $("mailbox-codename-done").disabled = !$("mailbox-noted").checked; });
  $("mailbox-codename-done").addEventListener("click", async () => {
    $("mailbox-codename-words").textContent = "";
    try {
      const thread = await fetchThread(state.keys, () => {});
      if (thread) await showThread(thread);
    } catch (error) {
      alertMessage(failureText(error));
    }
  });
  $("mailbox-open-form").addEventListener("submit", openWithCodename);
  $("mailbox-reply-form").addEventListener("submit", sendReply);
  $("mailbox-delete").addEventListener("click", () => {
    show($("mailbox-delete-confirm"));
    $("mailbox-delete-no").focus();
  });
  $("mailbox-delete-no").addEventListener("click", () => show($("mailbox-delete-confirm"), false));
  $("mailbox-delete-yes").addEventListener("click", deleteThread);
  $("mailbox-leave").addEventListener("click", () => {
    forget();
    showOnly("mailbox-start");
  });
  $("mailbox-again").addEventListener("click", () => showOnly("mailbox-start"));
}

start();

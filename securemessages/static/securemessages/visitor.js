// The visitor's mailbox page: write a message, get a codename, come back with it, read, answer, delete.
//
// Everything is encrypted and decrypted here (mailbox.js). The codename and the keys made from it live only
// in this page's memory; nothing is written to storage. Every counsellor device a message is sealed to is
// checked against the organisation key pinned in this page (org-key.js, with an SRI hash), and every answer's
// signature against the certificate of the device that wrote it: what does not verify is not shown.
import { b64d, b64e, MAX_PLAINTEXT_BYTES, encodeMessage, workSolve } from "../chat/protocol.js";
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

/** A status line (a `role=status` paragraph) and the progress bar after it, shown while the device works. */
function statusLine(id) {
  return (text, { progress = false } = {}) => {
    $(id).textContent = text;
    show($(`${id}-progress`), progress);
  };
}

// --- proof of work (docs/mailbox.md §9) ------------------------------------------------------------------
//
// Every request pays with the chat's PBKDF2 puzzle (protocol.md §9), fetched for that request alone. The page
// starts on it when the visitor opens the form it is for and renews it while they type, so the device mostly
// works while they write. A challenge is good for five minutes: an answer older than four is not used.

const WORK_FRESH_MS = 4 * 60 * 1000;
const prepared = new Map(); // action (write, reply, open, delete) → {started, settled, abort, answer}

function isFresh(job) {
  return Boolean(job) && performance.now() - job.started < WORK_FRESH_MS;
}

/** Start solving for `action` unless a fresh answer is on its way. */
function prepareWork(action) {
  if (isFresh(prepared.get(action))) return;
  prepared.get(action)?.abort.abort();
  const job = { started: performance.now(), settled: false, abort: new AbortController() };
  job.answer = (async () => {
    try {
      const { challenge, iterations, bits } = await request("GET", `/mailbox/pow/?for=${action}`);
      const nonce = await workSolve(b64d(challenge), iterations, bits, { signal: job.abort.signal });
      return { challenge, nonce: b64e(nonce) };
    } finally {
      job.settled = true;
    }
  })();
  job.answer.catch(() => {}); // whoever takes the answer sees the failure
  prepared.set(action, job);
}

/** The answer for one request, used once; `status` shows the progress sentence while the device still works. */
async function proofOfWork(action, status) {
  let job = prepared.get(action);
  if (!isFresh(job) || (job.settled && !(await job.answer.then(() => true, () => false)))) {
    prepared.delete(action); // stale, or failed (say the network dropped while the visitor typed): afresh
    prepareWork(action);
    job = prepared.get(action);
  }
  prepared.delete(action);
  if (!job.settled) status(S.pow, { progress: true });
  return job.answer;
}

function forgetWork() {
  for (const job of prepared.values()) job.abort.abort();
  prepared.clear();
}

class NoTeam extends Error {}

/** The message sealed to the mailbox and to every team device that verifies, and the answer that pays for it. */
async function sealed(keys, text, action, status) {
  status(S.encrypting);
  const { devices } = await request("GET", "/mailbox/team/");
  const team = await verifiedTeam(devices, await orgPublicKey());
  if (!team.length) throw new NoTeam();
  const recipients = new Map([["mailbox", keys.mkRaw], ...team.map((member) => [member.device, member.ekRaw])]);
  const msg = await buildEnvelope(keys.thread, VISITOR, keys.signKey, { t: "text", body: text }, recipients);
  return { msg, pow: await proofOfWork(action, status) };
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
  const status = statusLine("mailbox-write-status");
  if (!text) return;
  if (tooLong(text)) return status(S.too_long);
  state.busy = true;
  $("mailbox-send").disabled = true;
  alertMessage("");
  try {
    status(S.encrypting);
    const codename = makeCodename(WORDS[lang], CODENAME_WORDS);
    const keys = await deriveCodenameKeys(codename);
    const { msg, pow } = await sealed(keys, text, "write", status);
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
    statusLine("mailbox-codename-status")("");
    prepareWork("open"); // for "Continue", while the visitor writes the words down
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
  const status = statusLine("mailbox-open-status");
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
  const pow = await proofOfWork("open", status);
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
  const status = statusLine("mailbox-reply-status");
  if (!text) return;
  if (tooLong(text)) return status(S.too_long);
  state.busy = true;
  $("mailbox-reply-send").disabled = true;
  try {
    const keys = state.keys;
    const { msg, pow } = await sealed(keys, text, "reply", status);
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
  const status = statusLine("mailbox-delete-status");
  $("mailbox-delete-yes").disabled = true;
  try {
    const pow = await proofOfWork("delete", status);
    status("");
    await request("POST", "/mailbox/delete/", { access: state.keys.accessB64, pow });
    forget();
    showOnly("mailbox-deleted");
  } catch (error) {
    if (error instanceof RequestFailed && error.status === 404) {
      forget();
      showOnly("mailbox-deleted");
    } else {
      status("");
      alertMessage(failureText(error));
    }
  } finally {
    state.busy = false;
    $("mailbox-delete-yes").disabled = false;
  }
}

function forget() {
  forgetWork();
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
  // The work for a request starts when its form opens and is renewed as the visitor types (prepareWork).
  $("mailbox-new").addEventListener("click", () => {
    prepareWork("write");
    showOnly("mailbox-write");
  });
  $("mailbox-text").addEventListener("input", () => prepareWork("write"));
  $("mailbox-have-codename").addEventListener("click", () => {
    prepareWork("open");
    showOnly("mailbox-return");
  });
  $("mailbox-codename-input").addEventListener("input", () => prepareWork("open"));
  $("mailbox-reply-text").addEventListener("input", () => {
    prepareWork("reply");
    prepareWork("open"); // the thread is read again once the answer is sent
  });
  $("mailbox-write-back").addEventListener("click", () => showOnly("mailbox-start"));
  $("mailbox-return-back").addEventListener("click", () => showOnly("mailbox-start"));
  $("mailbox-write-form").addEventListener("submit", sendFirst);
  $("mailbox-copy").addEventListener("click", copyCodename);
  $("mailbox-noted").addEventListener("change", () => { $("mailbox-codename-done").disabled = !$("mailbox-noted").checked; });
  $("mailbox-codename-done").addEventListener("click", async () => {
    const status = statusLine("mailbox-codename-status");
    $("mailbox-codename-done").disabled = true;
    try {
      const thread = await fetchThread(state.keys, status);
      status("");
      $("mailbox-codename-words").textContent = "";
      if (thread) await showThread(thread);
    } catch (error) {
      status("");
      $("mailbox-codename-done").disabled = false;
      alertMessage(failureText(error));
    }
  });
  $("mailbox-open-form").addEventListener("submit", openWithCodename);
  $("mailbox-reply-form").addEventListener("submit", sendReply);
  $("mailbox-delete").addEventListener("click", () => {
    prepareWork("delete"); // while the visitor answers the question
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

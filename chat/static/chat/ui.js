// Small helpers both chat pages share: translated strings, DOM building with textContent only,
// and a websocket that reconnects with backoff.

import { DELIVERED, HELD, NOT_DELIVERED, UNCONFIRMED } from "./conversation.js";

/**
 * Show a text's delivery state at its line (both pages: sending, delivered, not delivered yet, and after the
 * end not delivered or unconfirmed), in the page's own words `S`. Returns the words for a final state the
 * chat ended in, else null.
 */
export function showDeliveryAt(line, message, S) {
  let mark = line.querySelector(".delivery");
  if (!mark) {
    mark = el("p", { className: "delivery" });
    line.append(mark);
  }
  const ended = { [NOT_DELIVERED]: S.not_delivered, [UNCONFIRMED]: S.unconfirmed }[message.state] || null;
  line.classList.toggle("not-delivered", message.state === HELD || message.state === NOT_DELIVERED);
  line.classList.toggle("delivered", message.state === DELIVERED);
  mark.textContent = { [DELIVERED]: S.delivered, [HELD]: S.held }[message.state] || ended || S.sending;
  return ended;
}

/** The strings the page's view put in a json_script element. */
export function loadStrings(id) {
  const element = document.getElementById(id);
  return element ? JSON.parse(element.textContent) : {};
}

/** Fill {name} placeholders; values are inserted as text later, never as HTML. */
export function format(template, values = {}) {
  return String(template).replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

/** Make an element with text content and attributes; children may be nodes or strings. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "text") node.textContent = value;
    else if (name === "className") node.className = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) node.append(child);
  return node;
}

export function show(node, visible = true) {
  if (node) node.hidden = !visible;
}

/** WebCrypto with ECDH, ECDSA, HKDF and AES-GCM: all a visitor's page needs (the console also needs IndexedDB). */
export function hasWebCrypto() {
  return Boolean(globalThis.crypto && globalThis.crypto.subtle && typeof globalThis.crypto.subtle.deriveBits === "function");
}

export function websocketUrl(path) {
  return `${window.location.protocol === "https:" ? "wss" : "ws"}://${window.location.host}${path}`;
}

export function timeOfDay(date = new Date()) {
  return date.toLocaleTimeString(document.documentElement.lang || undefined, { hour: "2-digit", minute: "2-digit" });
}

/**
 * A short tone for a cue, both chat pages' one sound. Browsers let a page make sound only after a person did
 * something on it: call unlock() from a click or a change.
 */
export class Chime {
  constructor() {
    this.audio = null;
  }

  unlock() {
    if (!this.audio && window.AudioContext) this.audio = new AudioContext();
    if (this.audio && this.audio.state === "suspended") this.audio.resume();
  }

  play(frequency = 880, volume = 0.2) {
    if (!this.audio || this.audio.state !== "running") return;
    const now = this.audio.currentTime;
    const tone = this.audio.createOscillator();
    const gain = this.audio.createGain();
    tone.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, now);
    gain.gain.exponentialRampToValueAtTime(volume, now + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + 0.35);
    tone.connect(gain).connect(this.audio.destination);
    tone.start(now);
    tone.stop(now + 0.4);
  }
}

// The server takes 10 frames a second from a socket on average, in bursts of up to 30, and refuses the rest; five
// refusals within a minute close the socket (docs/protocol.md §8). A person sending many short messages quickly,
// each with its typing frames and the receipts going back, can go over that, and lose the connection and the
// secure session for it. So the page keeps under the limit itself, with a margin for frames arriving bunched.
const PACE_PER_SECOND = 8;
const PACE_BURST = 24;

/**
 * A websocket that reconnects after an unexpected close, waiting 1, 2, 4 … 30 seconds (with jitter).
 * Handlers: onOpen(isReconnect), onFrame(object), onDown(closeEvent): returning false from onDown stops
 * reconnecting (e.g. the server said the chat moved to another tab). stop() ends it for good.
 */
export class ReconnectingSocket {
  constructor(url, { onOpen, onFrame, onDown } = {}) {
    this.url = url;
    this.onOpen = onOpen || (() => {});
    this.onFrame = onFrame || (() => {});
    this.onDown = onDown || (() => {});
    this.attempt = 0;
    this.stopped = false;
    this.socket = null;
    this.opened = false;
    this.timer = null;
    // Frames are handled one after the other: a `msg` right behind a `connected` must wait until the
    // handshake was verified and the keys derived, or it would be dropped for want of a key.
    this.handling = Promise.resolve();
    // Pacing (PACE_PER_SECOND): what is over the budget waits here, in order, for this socket only.
    this.tokens = PACE_BURST;
    this.refilledAt = 0;
    this.waiting = [];
    this.paceTimer = null;
    this.heardAt = 0; // when the last frame arrived (performance.now())
  }

  /** Nothing at all has arrived on this socket for `ms`. */
  silentFor(ms) {
    return performance.now() - this.heardAt > ms;
  }

  start() {
    this.stopped = false;
    // A phone that loses its network often closes nothing: the socket looks open while nothing gets through.
    // The browser knows sooner than TCP does; so does the page, when a text gets no receipt (`restart`).
    window.addEventListener("offline", this.#wentOffline);
    window.addEventListener("online", this.#cameOnline);
    this.#connect();
  }

  #wentOffline = () => this.restart();

  #cameOnline = () => this.reconnectNow();

  /**
   * Give up on the current socket as if it had closed (a dead link the browser has not noticed): onDown runs,
   * and a new socket follows as after any close. Its own close event, whenever it comes, is then ignored.
   */
  restart() {
    const socket = this.socket;
    if (!socket || this.stopped) return;
    this.socket = null;
    this.#forgetWaiting();
    try {
      socket.close(4000);
    } catch (error) {
      // already closing
    }
    if (this.onDown({ code: 4000, reason: "restart" }) === false) this.stopped = true;
    if (!this.stopped) this.#retryLater();
  }

  /** Waiting to reconnect (e.g. the network is back): do it now instead. */
  reconnectNow() {
    if (this.stopped || this.socket) return;
    window.clearTimeout(this.timer);
    this.attempt = 0;
    this.#connect();
  }

  #retryLater() {
    window.clearTimeout(this.timer);
    const delay = Math.min(30, 2 ** this.attempt) * 1000 * (0.75 + Math.random() * 0.5);
    this.attempt += 1;
    this.timer = window.setTimeout(() => this.#connect(), delay);
  }

  #connect() {
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.addEventListener("open", () => {
      const isReconnect = this.opened;
      this.opened = true;
      this.attempt = 0;
      this.heardAt = performance.now();
      this.#forgetWaiting();
      this.tokens = PACE_BURST; // a new socket: the server counts afresh
      this.refilledAt = performance.now();
      this.onOpen(isReconnect);
    });
    socket.addEventListener("message", (event) => {
      this.heardAt = performance.now();
      if (typeof event.data !== "string") return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      if (frame && typeof frame === "object" && typeof frame.type === "string") {
        this.handling = this.handling.then(() => this.onFrame(frame)).catch(() => {});
      }
    });
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      // What still waited was never sent: the conversation holds its texts and sends them again later.
      this.#forgetWaiting();
      if (this.stopped) return;
      if (this.onDown(event) === false) this.stopped = true;
      if (this.stopped) return;
      this.#retryLater();
    });
  }

  get isOpen() {
    return Boolean(this.socket && this.socket.readyState === WebSocket.OPEN);
  }

  /**
   * Put `frame` on the socket now, or after the frames already waiting when the budget is spent (true), or
   * false when the socket is not open. A waiting typing indicator is replaced by a newer one for the same chat:
   * only the latest state matters, and it must not hold up the texts. `now`: at once, ahead of what waits (a
   * quick exit's `leave`, sent as the page goes away: at worst the server refuses it as one over the rate).
   */
  send(frame, { now = false } = {}) {
    if (!this.isOpen) return false;
    this.#refill();
    if (now || (!this.waiting.length && this.tokens >= 1)) {
      this.tokens -= 1;
      this.socket.send(JSON.stringify(frame));
      return true;
    }
    if (frame.type === "typing") {
      this.waiting = this.waiting.filter((waiting) => waiting.type !== "typing" || waiting.chat !== frame.chat);
    }
    this.waiting.push(frame);
    this.#paceLater();
    return true;
  }

  #refill() {
    const now = performance.now();
    this.tokens = Math.min(PACE_BURST, this.tokens + ((now - this.refilledAt) / 1000) * PACE_PER_SECOND);
    this.refilledAt = now;
  }

  #paceLater() {
    if (this.paceTimer !== null) return;
    const wait = Math.max(0, (1 - this.tokens) / PACE_PER_SECOND) * 1000;
    this.paceTimer = window.setTimeout(() => {
      this.paceTimer = null;
      this.#sendWaiting();
    }, wait);
  }

  #sendWaiting() {
    if (!this.isOpen) return this.#forgetWaiting();
    this.#refill();
    while (this.waiting.length && this.tokens >= 1) {
      this.tokens -= 1;
      this.socket.send(JSON.stringify(this.waiting.shift()));
    }
    if (this.waiting.length) this.#paceLater();
    return undefined;
  }

  #forgetWaiting() {
    window.clearTimeout(this.paceTimer);
    this.paceTimer = null;
    this.waiting = [];
  }

  stop() {
    this.stopped = true;
    window.clearTimeout(this.timer);
    window.removeEventListener("offline", this.#wentOffline);
    window.removeEventListener("online", this.#cameOnline);
    this.#forgetWaiting();
    if (this.socket) this.socket.close(1000);
    this.socket = null;
  }
}

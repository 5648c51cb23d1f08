// Small helpers both chat pages share: translated strings, DOM building with textContent only,
// and a websocket that reconnects with backoff.

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
  }

  start() {
    this.stopped = false;
    this.#connect();
  }

  #connect() {
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.addEventListener("open", () => {
      const isReconnect = this.opened;
      this.opened = true;
      this.attempt = 0;
      this.onOpen(isReconnect);
    });
    socket.addEventListener("message", (event) => {
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
      if (this.stopped) return;
      if (this.onDown(event) === false) this.stopped = true;
      if (this.stopped) return;
      const delay = Math.min(30, 2 ** this.attempt) * 1000 * (0.75 + Math.random() * 0.5);
      this.attempt += 1;
      this.timer = window.setTimeout(() => this.#connect(), delay);
    });
  }

  get isOpen() {
    return Boolean(this.socket && this.socket.readyState === WebSocket.OPEN);
  }

  send(frame) {
    if (!this.isOpen) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  stop() {
    this.stopped = true;
    window.clearTimeout(this.timer);
    if (this.socket) this.socket.close(1000);
    this.socket = null;
  }
}

// What one side of one chat said and heard, across epochs (docs/protocol.md §6): message ids, delivery states,
// receipts, and sending again. Both chat pages use it; the twin of chat/client/conversation.py.
//
// A text gets an id when it is written and keeps it when it is sent again under a later epoch. It is "sending"
// once it went out on the socket, "delivered" when the other side's receipt (inside the encryption) names it,
// and "held" (not delivered yet) when it reached no one: the server refused it by name, the socket was down, or
// its epoch ended before a receipt came. Held texts go again, in the order written, as soon as there is a
// verified epoch. A received text is shown once per id and receipted every time.
import { isMessageId, MAX_RECEIPT_IDS, receiptIds, receiptMessage, newMessageId, textMessage } from "./protocol.js";

export const SENDING = "sending";
export const DELIVERED = "delivered";
export const HELD = "held";
export const NOT_DELIVERED = "not-delivered"; // the chat ended while it was held: it never reached anyone
export const UNCONFIRMED = "unconfirmed"; // the chat ended after it went out, before its receipt: it may have arrived

const RECEIPT_DELAY_MS = 150; // receipts for a burst of messages go together
const BUSY_RETRY_MS = 3000; // a busy server refused a message: try again in the same epoch after this

export class Conversation {
  /**
   * `session()`: the current verified EpochSession, or null; `send(frame)`: put a frame on the socket, false if it
   * is not open; `changed(item)`: a text's state changed (redraw it).
   */
  constructor({ session, send, changed }) {
    this.session = session;
    this.send = send;
    this.changed = changed || (() => {});
    this.items = new Map(); // id -> {id, body, state, epoch, seq, at}
    this.seen = new Set();
    this.receipts = [];
    this.receiptTimer = null;
    this.retryTimer = null;
  }

  /** A new text: it goes now if it can, else it is held. Resolves to its item. */
  async write(body) {
    const item = { id: newMessageId(), body, state: HELD, epoch: null, seq: null, at: Date.now() };
    this.items.set(item.id, item);
    await this.#sendItem(item);
    return item;
  }

  async #sendItem(item) {
    const session = this.session();
    if (!session) return this.#hold(item);
    const frame = await session.seal(textMessage(item.body, item.id));
    if (!this.send(frame)) return this.#hold(item);
    item.state = SENDING;
    item.sentAt = Date.now();
    item.epoch = frame.epoch;
    item.seq = frame.seq;
    this.changed(item);
    return item;
  }

  #hold(item) {
    item.state = HELD;
    item.epoch = null;
    item.seq = null;
    this.changed(item);
    return item;
  }

  /**
   * True when a text went out more than `ms` ago and neither a receipt nor a refusal came: the other side's page
   * answers within a second, and the server refuses at once what it cannot pass on, so the link is likely dead.
   */
  overdue(ms) {
    const before = Date.now() - ms;
    return [...this.items.values()].some((item) => item.state === SENDING && item.sentAt < before);
  }

  /** The texts not delivered yet, in the order written. */
  pending() {
    return [...this.items.values()].filter((item) => item.state === HELD || item.state === SENDING);
  }

  /**
   * A new verified epoch: everything not delivered goes again under it (same ids, new seqs). With `onlyHeld`
   * (a retry within the same epoch after a busy refusal) only what the server refused goes again.
   */
  async resendPending({ onlyHeld = false } = {}) {
    window.clearTimeout(this.retryTimer);
    for (const item of this.pending()) {
      if (onlyHeld && item.state !== HELD) continue;
      item.state = HELD;
      await this.#sendItem(item);
    }
  }

  /**
   * The chat ended: nothing is sent again, and no receipt comes any more. A held text never reached anyone
   * (NOT_DELIVERED); one that went out may well have arrived, its receipt on the way when the chat ended (the
   * other page sends receipts within 150 ms; the server passes nothing on after the end): UNCONFIRMED.
   * Returns the texts never delivered, in the order written.
   */
  ended() {
    window.clearTimeout(this.retryTimer);
    const unsent = [];
    for (const item of this.items.values()) {
      if (item.state !== HELD && item.state !== SENDING) continue;
      item.state = item.state === HELD ? NOT_DELIVERED : UNCONFIRMED;
      if (item.state === NOT_DELIVERED) unsent.push(item);
      this.changed(item);
    }
    return unsent;
  }

  /** The epoch ended (the other side or our socket went away): what has no receipt yet is not delivered yet. */
  holdUnconfirmed() {
    for (const item of this.items.values()) if (item.state === SENDING) this.#hold(item);
  }

  /**
   * The server refused the message of ours it names by seq (`undelivered`: nobody can receive it now; busy
   * `rate_limited`: try again shortly). Seqs restart with each epoch, and a text still "sending" is always of the
   * latest one (an epoch's end holds the rest). Returns the item, or null if it is not one of ours.
   */
  refused(seq, { busy = false } = {}) {
    const sending = [...this.items.values()].filter((candidate) => candidate.state === SENDING && candidate.seq === seq);
    const item = sending.sort((left, right) => right.epoch - left.epoch)[0];
    if (!item) return null;
    this.#hold(item);
    if (busy) {
      window.clearTimeout(this.retryTimer);
      this.retryTimer = window.setTimeout(() => this.resendPending({ onlyHeld: true }), BUSY_RETRY_MS);
    }
    return item;
  }

  /**
   * An opened message of the other side. Returns {text: item-like} for a text to show (first time its id is
   * seen), {delivered: [items]} for a receipt, or {} for anything else (a copy sent again, unknown kinds).
   */
  received(message) {
    const ids = receiptIds(message);
    if (ids.length) {
      const delivered = [];
      for (const id of ids) {
        const item = this.items.get(id);
        if (item && item.state !== DELIVERED) {
          item.state = DELIVERED;
          this.changed(item);
          delivered.push(item);
        }
      }
      return { delivered };
    }
    if (message.t !== "text" || typeof message.body !== "string" || !isMessageId(message.id)) return {};
    this.#queueReceipt(message.id);
    if (this.seen.has(message.id)) return {};
    this.seen.add(message.id);
    return { text: { id: message.id, body: message.body } };
  }

  #queueReceipt(id) {
    this.receipts.push(id);
    if (this.receipts.length >= MAX_RECEIPT_IDS) {
      this.flushReceipts();
      return;
    }
    window.clearTimeout(this.receiptTimer);
    this.receiptTimer = window.setTimeout(() => this.flushReceipts(), RECEIPT_DELAY_MS);
  }

  /** Send the receipts waiting to go (they are inside the encryption, under the current epoch). */
  async flushReceipts() {
    window.clearTimeout(this.receiptTimer);
    const session = this.session();
    if (!session || !this.receipts.length) return;
    const ids = this.receipts.splice(0, MAX_RECEIPT_IDS);
    if (!this.send(await session.seal(receiptMessage(ids)))) this.receipts.unshift(...ids);
  }

  /** What a console keeps across a reload (its transcript store): texts with their states, and the ids seen. */
  snapshot() {
    return { items: [...this.items.values()].map((item) => ({ ...item })), seen: [...this.seen] };
  }

  restore(saved) {
    for (const item of saved.items || []) {
      // After a reload nothing is in flight: what was sending has no receipt yet. Delivered and never-delivered
      // (the chat ended) are final.
      const final = [DELIVERED, NOT_DELIVERED, UNCONFIRMED].includes(item.state);
      this.items.set(item.id, { ...item, state: final ? item.state : HELD, epoch: null, seq: null });
    }
    for (const id of saved.seen || []) this.seen.add(id);
  }

  forget() {
    window.clearTimeout(this.receiptTimer);
    window.clearTimeout(this.retryTimer);
    this.items.clear();
    this.seen.clear();
    this.receipts = [];
  }
}

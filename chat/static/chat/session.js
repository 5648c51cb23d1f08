// One epoch of one chat in the browser: its AES-GCM keys, send counter and receive window (protocol.md §5–6).
// The twin of chat/client/session.py. Keys are non-extractable CryptoKeys held in memory only.
import {
  b64d,
  decryptMessage,
  deriveSession,
  encryptMessage,
  ReceiveWindow,
  SendCounter,
} from "./protocol.js";

export class EpochSession {
  /** side: "visitor" or "counsellor"; keys: what deriveSession resolved to. */
  constructor(side, chat, epoch, keys) {
    this.side = side;
    this.chat = chat;
    this.epoch = epoch;
    this.keys = keys;
    this.sendCounter = new SendCounter();
    this.receiveWindow = new ReceiveWindow();
  }

  /** Derive the epoch's keys from our ECDH private key and both public keys (b64, as on the wire). */
  static async derive(side, chat, epoch, ownPrivateKey, vk, ck) {
    const vRaw = b64d(vk);
    const cRaw = b64d(ck);
    const peer = side === "visitor" ? cRaw : vRaw;
    return new EpochSession(side, chat, epoch, await deriveSession(ownPrivateKey, peer, vRaw, cRaw, chat, epoch));
  }

  get safetyCode() {
    return this.keys.safetyCode;
  }

  get sendDirection() {
    return this.side === "visitor" ? "v2c" : "c2v";
  }

  get receiveDirection() {
    return this.side === "visitor" ? "c2v" : "v2c";
  }

  #key(direction) {
    return direction === "v2c" ? this.keys.kV2c : this.keys.kC2v;
  }

  /** Encrypt a message object; resolves to the msg frame (ciphertext only) with a fresh seq. */
  async seal(message) {
    const seq = this.sendCounter.nextSeq();
    const ct = await encryptMessage(this.#key(this.sendDirection), this.chat, this.epoch, this.sendDirection, seq, message);
    return { type: "msg", chat: this.chat, epoch: this.epoch, seq, ct };
  }

  /**
   * Open a msg frame of this epoch; resolves to {message, missing}. Rejects with
   * ReplayedSequenceError or MessageDecryptionError; the window moves only after the message authenticated.
   */
  async open(frame) {
    this.receiveWindow.check(frame.seq);
    const message = await decryptMessage(this.#key(this.receiveDirection), this.chat, this.epoch, this.receiveDirection, frame.seq, frame.ct);
    const missing = this.receiveWindow.advance(frame.seq);
    return { message, missing };
  }
}

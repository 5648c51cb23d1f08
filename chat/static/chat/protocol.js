// Chat protocol cryptography (v2) for the browser (docs/protocol.md): the twin of chat/protocol/crypto.py.
//
// WebCrypto only, no dependencies, no eval and no DOM, so that it runs under the strictest
// CSP and its published hash is all a verifier needs. Both implementations reproduce
// vectors.json; where the v1 text was open to two readings, docs/protocol.md now says
// which one both follow.

const subtle = globalThis.crypto.subtle;
const utf8Encoder = new TextEncoder();
// fatal: a message that is not valid UTF-8 must be refused, not silently repaired.
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

export const CERT_TBS_LABEL = "helpline-cert-v1";
export const HANDSHAKE_TBS_LABEL = "helpline-hs-v1";
export const KDF_LABEL = "helpline-v1";
export const MESSAGE_AAD_LABEL = "helpline-msg-v1";

export const PUBLIC_KEY_BYTES = 65;
export const SIGNATURE_BYTES = 64;
export const DEVICE_ID_BYTES = 16;
export const CHAT_ID_BYTES = 16;
export const PADDING_BLOCK = 256;
export const MAX_PLAINTEXT_BYTES = 16 * 1024;
export const MAX_POW_NONCE_BYTES = 32;
export const PSEUDONYM_MAX_CHARS = 40;
const GCM_TAG_BYTES = 16;
const POW_SOLVER_NONCE_BYTES = 8;
const SAFETY_CODE_MODULUS = 1000000;
const CERT_FIELDS = ["device", "key", "not_after", "pseudonym", "sig", "v"];
const ECDSA_P256 = { name: "ECDSA", namedCurve: "P-256" };
const ECDH_P256 = { name: "ECDH", namedCurve: "P-256" };
const ECDSA_SHA256 = { name: "ECDSA", hash: "SHA-256" };

/** Any refusal by this module; `reason` is a short machine-friendly word. */
export class ProtocolError extends Error {
  constructor(reason, detail = "") {
    super(detail ? `${reason}: ${detail}` : reason);
    this.name = "ProtocolError";
    this.reason = reason;
  }
}

/** A certificate was refused; `reason` matches the Python CertificateError reasons. */
export class CertificateError extends ProtocolError {
  constructor(reason, detail = "") {
    super(reason, detail);
    this.name = "CertificateError";
  }
}

/** A message's seq is below next_seq: a replay or a reordering. */
export class ReplayedSequenceError extends ProtocolError {
  constructor(detail) {
    super("replayed_seq", detail);
    this.name = "ReplayedSequenceError";
  }
}

/** A message did not authenticate, or is not a padded JSON object. */
export class MessageDecryptionError extends ProtocolError {
  constructor(detail) {
    super("undecryptable", detail);
    this.name = "MessageDecryptionError";
  }
}

// --- Encodings ---------------------------------------------------------------

/** Base64url without padding (RFC 4648 §5). */
export function b64e(bytes) {
  const view = toBytes(bytes);
  let binary = "";
  for (const byte of view) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Decode unpadded, canonical base64url; throws ProtocolError otherwise. */
export function b64d(text) {
  if (typeof text !== "string" || !/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) {
    throw new ProtocolError("bad_base64", "not unpadded base64url");
  }
  const padded = text.replaceAll("-", "+").replaceAll("_", "/") + "=".repeat((4 - (text.length % 4)) % 4);
  const binary = atob(padded);
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index += 1) bytes[index] = binary.charCodeAt(index);
  // atob ignores stray low bits in the last character; one byte string must have one text form.
  if (b64e(bytes) !== text) throw new ProtocolError("bad_base64", "not canonical");
  return bytes;
}

export function hexToBytes(hex) {
  if (typeof hex !== "string" || hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new ProtocolError("bad_hex");
  }
  const bytes = new Uint8Array(hex.length / 2);
  for (let index = 0; index < bytes.length; index += 1) {
    bytes[index] = parseInt(hex.slice(index * 2, index * 2 + 2), 16);
  }
  return bytes;
}

export function bytesToHex(bytes) {
  return Array.from(toBytes(bytes), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function toBytes(value) {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  throw new ProtocolError("bad_bytes", "expected a Uint8Array or ArrayBuffer");
}

function concatBytes(...parts) {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const joined = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.length;
  }
  return joined;
}

function equalBytes(left, right) {
  if (left.length !== right.length) return false;
  let difference = 0;
  for (let index = 0; index < left.length; index += 1) difference |= left[index] ^ right[index];
  return difference === 0;
}

/**
 * UTF-8 of the fields joined by "\n": the form of every signed text, HKDF info and AAD.
 * A newline inside a field would let two field lists give the same bytes, so it is refused.
 */
export function joinFields(...fields) {
  for (const field of fields) {
    if (typeof field !== "string") throw new ProtocolError("bad_field", "every field must be a string");
    if (field.includes("\n")) throw new ProtocolError("bad_field", "a field may not contain a newline");
    // TextEncoder would turn a lone surrogate into U+FFFD; Python refuses it, so must we.
    if (/[\uD800-\uDFFF]/u.test(field)) throw new ProtocolError("bad_field", "a field is not valid Unicode");
  }
  return utf8Encoder.encode(fields.join("\n"));
}

// Epochs and seqs must stay exact as JavaScript Numbers.
function decimalField(value, name) {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ProtocolError("bad_field", `${name} must be an integer from 0 to 2**53 - 1`);
  }
  return String(value);
}

function checkChatId(chat) {
  if (b64d(chat).length !== CHAT_ID_BYTES) throw new ProtocolError("bad_chat", "chat must be b64 of 16 bytes");
  return chat;
}

function checkDirection(direction) {
  if (direction !== "v2c" && direction !== "c2v") {
    throw new ProtocolError("bad_direction", "direction must be 'v2c' or 'c2v'");
  }
  return direction;
}

// --- Keys --------------------------------------------------------------------

/** The 65-byte uncompressed SEC1 form of a public CryptoKey. */
export async function exportPublicKeyRaw(publicKey) {
  return new Uint8Array(await subtle.exportKey("raw", publicKey));
}

/** A fresh ECDH key pair for one epoch; the private half cannot be exported. */
export async function generateChatKeyPair() {
  const pair = await subtle.generateKey(ECDH_P256, false, ["deriveBits"]);
  return { privateKey: pair.privateKey, publicKey: pair.publicKey, publicRaw: await exportPublicKeyRaw(pair.publicKey) };
}

/** A counsellor's device key; the private half cannot be exported and may be kept in IndexedDB. */
export async function generateDeviceKeyPair() {
  const pair = await subtle.generateKey(ECDSA_P256, false, ["sign", "verify"]);
  return { privateKey: pair.privateKey, publicKey: pair.publicKey, publicRaw: await exportPublicKeyRaw(pair.publicKey) };
}

/**
 * Import a 65-byte uncompressed P-256 point for "ECDSA" (verify) or "ECDH" (peer key).
 * Throws ProtocolError("bad_key") unless it is a point on the curve.
 */
export async function importPublicKey(raw65, algorithm = "ECDSA") {
  const raw = toBytes(raw65);
  // Some browsers would also take the 33-byte compressed form; the protocol allows only one.
  if (raw.length !== PUBLIC_KEY_BYTES || raw[0] !== 0x04) {
    throw new ProtocolError("bad_key", "public key must be a 65-byte uncompressed P-256 point");
  }
  const isEcdsa = algorithm === "ECDSA";
  if (!isEcdsa && algorithm !== "ECDH") throw new ProtocolError("bad_key", "algorithm must be ECDSA or ECDH");
  try {
    return await subtle.importKey("raw", raw, isEcdsa ? ECDSA_P256 : ECDH_P256, true, isEcdsa ? ["verify"] : []);
  } catch (error) {
    throw new ProtocolError("bad_key", "not a point on P-256");
  }
}

/**
 * Tests only: a private key from a P-256 scalar in hex (as in vectors.json). WebCrypto cannot
 * compute the public point from the scalar, so the caller passes it (65-byte raw) too.
 */
export async function importPrivateKeyFromScalarHexForTests(scalarHex, publicRaw, algorithm = "ECDSA", extractable = false) {
  const point = toBytes(publicRaw);
  const jwk = {
    kty: "EC",
    crv: "P-256",
    d: b64e(hexToBytes(scalarHex.padStart(64, "0"))),
    x: b64e(point.slice(1, 33)),
    y: b64e(point.slice(33, 65)),
    ext: extractable,
  };
  const isEcdsa = algorithm === "ECDSA";
  return subtle.importKey("jwk", jwk, isEcdsa ? ECDSA_P256 : ECDH_P256, extractable, isEcdsa ? ["sign"] : ["deriveBits"]);
}

/** The organisation key's name: b64 of the first 8 bytes of SHA-256 over its SEC1 form. */
export async function orgKeyId(orgPublicRaw) {
  const digest = new Uint8Array(await subtle.digest("SHA-256", toBytes(orgPublicRaw)));
  return b64e(digest.slice(0, 8));
}

// --- Signatures --------------------------------------------------------------

/** ECDSA P-256 / SHA-256; WebCrypto's result is already the 64-byte r‖s the wire uses. */
export async function signRaw(privateKey, data) {
  return new Uint8Array(await subtle.sign(ECDSA_SHA256, privateKey, toBytes(data)));
}

/** True only for a valid 64-byte r‖s signature; false for anything malformed. */
export async function verifyRaw(publicKey, signature, data) {
  try {
    const sig = toBytes(signature);
    if (sig.length !== SIGNATURE_BYTES) return false;
    return await subtle.verify(ECDSA_SHA256, publicKey, sig, toBytes(data));
  } catch (error) {
    return false;
  }
}

// --- Certificates ------------------------------------------------------------

/** The bytes the organisation key signs for a certificate (tbs_cert, protocol.md §3). */
export function certTbs(cert, keyId) {
  return joinFields(CERT_TBS_LABEL, cert.device, cert.pseudonym, cert.key, cert.not_after, keyId);
}

// Printable as Python's str.isprintable means it: no control, format (bidi overrides),
// surrogate, private-use, unassigned or separator characters except the ASCII space.
const PRINTABLE_TEXT = /^(?:[^\p{C}\p{Z}]|\x20)+$/u;

function checkPseudonym(pseudonym) {
  if (typeof pseudonym !== "string") throw new CertificateError("bad_pseudonym", "not a string");
  // Counted in code points, as Python counts, not UTF-16 units.
  const length = [...pseudonym].length;
  if (length < 1 || length > PSEUDONYM_MAX_CHARS) {
    throw new CertificateError("bad_pseudonym", "must be 1 to 40 characters");
  }
  if (!PRINTABLE_TEXT.test(pseudonym)) {
    throw new CertificateError("bad_pseudonym", "has a character that is not printable");
  }
  return pseudonym;
}

function isLeapYear(year) {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

// A real calendar date, checked by hand: Date.parse is lenient and maps years 0–99 to 19xx.
function parseNotAfter(notAfter) {
  const match = typeof notAfter === "string" ? /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/.exec(notAfter) : null;
  if (!match) throw new CertificateError("bad_not_after", "must be YYYY-MM-DD");
  const [year, month, day] = match.slice(1).map(Number);
  const daysInMonth = [31, isLeapYear(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth[month - 1]) {
    throw new CertificateError("bad_not_after", "not a real date");
  }
  return notAfter;
}

/** Today's date in UTC as YYYY-MM-DD, the clock certificate expiry is measured against. */
export function utcToday(now = new Date()) {
  return now.toISOString().slice(0, 10);
}

/**
 * Accept a certificate only if it is well formed, unexpired today (UTC) and signed by the
 * pinned organisation key (b64 of its 65-byte point). `today` is a Date or "YYYY-MM-DD".
 * Resolves to {device, pseudonym, publicRaw, publicKey (ECDSA verify CryptoKey), notAfter};
 * rejects with CertificateError whose reason is one of not_object, bad_fields, bad_version,
 * bad_device, bad_pseudonym, bad_key, bad_not_after, expired, bad_signature.
 */
export async function verifyCertificate(cert, orgPublicB64, today = new Date()) {
  if (cert === null || typeof cert !== "object" || Array.isArray(cert)) throw new CertificateError("not_object");
  const fields = Object.keys(cert).sort();
  if (fields.length !== CERT_FIELDS.length || fields.some((name, index) => name !== CERT_FIELDS[index])) {
    throw new CertificateError("bad_fields", "must have exactly v, device, pseudonym, key, not_after, sig");
  }
  if (cert.v !== 1) throw new CertificateError("bad_version", "v must be the integer 1");
  for (const name of ["device", "pseudonym", "key", "not_after", "sig"]) {
    if (typeof cert[name] !== "string") throw new CertificateError("bad_fields", `${name} must be a string`);
  }
  let device;
  try {
    device = b64d(cert.device);
  } catch (error) {
    throw new CertificateError("bad_device", "not base64url");
  }
  if (device.length !== DEVICE_ID_BYTES) throw new CertificateError("bad_device", "must decode to 16 bytes");
  checkPseudonym(cert.pseudonym);
  let publicRaw;
  let publicKey;
  try {
    publicRaw = b64d(cert.key);
    publicKey = await importPublicKey(publicRaw, "ECDSA");
  } catch (error) {
    throw new CertificateError("bad_key", "not a P-256 point");
  }
  const notAfter = parseNotAfter(cert.not_after);
  const todayIso = typeof today === "string" ? today : utcToday(today);
  // A malformed "today" would compare as text in some arbitrary order.
  if (!/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(todayIso)) throw new ProtocolError("bad_today", "today must be YYYY-MM-DD");
  // Both are YYYY-MM-DD, so text order is date order.
  if (todayIso > notAfter) throw new CertificateError("expired", `valid until ${notAfter}`);
  let signature;
  let orgPublicRaw;
  let orgPublicKey;
  try {
    signature = b64d(cert.sig);
    orgPublicRaw = b64d(orgPublicB64);
    orgPublicKey = await importPublicKey(orgPublicRaw, "ECDSA");
  } catch (error) {
    throw new CertificateError("bad_signature", "signature or org key is malformed");
  }
  const tbs = certTbs(cert, await orgKeyId(orgPublicRaw));
  if (!(await verifyRaw(orgPublicKey, signature, tbs))) {
    throw new CertificateError("bad_signature", "does not verify under the organisation key");
  }
  return { device: cert.device, pseudonym: cert.pseudonym, publicRaw, publicKey, notAfter };
}

// --- Handshake ---------------------------------------------------------------

/** The bytes a counsellor's device key signs for one epoch (tbs_hs, protocol.md §5). */
export function handshakeTbs(chat, epoch, vk, ck) {
  return joinFields(HANDSHAKE_TBS_LABEL, checkChatId(chat), decimalField(epoch, "epoch"), vk, ck);
}

/** Sign a handshake with the device's ECDSA private CryptoKey; resolves to the b64 signature. */
export async function signHandshake(devicePrivateKey, chat, epoch, vk, ck) {
  return b64e(await signRaw(devicePrivateKey, handshakeTbs(chat, epoch, vk, ck)));
}

/**
 * Check a handshake signature under a device key: `certified` is what verifyCertificate
 * resolved to, or an ECDSA public CryptoKey. Both vk and ck must be P-256 points.
 * The visitor must pass its own vk, never the one the server echoes.
 * Resolves to false on any failure.
 */
export async function verifyHandshake(certified, chat, epoch, vk, ck, sigB64) {
  try {
    const publicKey = certified instanceof CryptoKey ? certified : certified.publicKey;
    await importPublicKey(b64d(vk), "ECDH");
    await importPublicKey(b64d(ck), "ECDH");
    return await verifyRaw(publicKey, b64d(sigB64), handshakeTbs(chat, epoch, vk, ck));
  } catch (error) {
    return false;
  }
}

/** Z: the 32-byte x-coordinate of the ECDH shared point. */
export async function ecdhSharedSecret(ownPrivateKey, peerPublicRaw) {
  const peerPublicKey = await importPublicKey(peerPublicRaw, "ECDH");
  return new Uint8Array(await subtle.deriveBits({ name: "ECDH", public: peerPublicKey }, ownPrivateKey, 256));
}

/** The HKDF salt: SHA-256 over the visitor's then the counsellor's 65-byte points. */
export async function sessionSalt(vPubRaw, cPubRaw) {
  return new Uint8Array(await subtle.digest("SHA-256", concatBytes(toBytes(vPubRaw), toBytes(cPubRaw))));
}

/** Six digits people can compare aloud: uint32_be(sas) mod 1 000 000, zero-padded. */
export function safetyCodeFromSas(sasBytes) {
  const sas = toBytes(sasBytes);
  if (sas.length !== 4) throw new ProtocolError("bad_sas", "sas must be 4 bytes");
  const value = new DataView(sas.buffer, sas.byteOffset, 4).getUint32(0, false);
  return String(value % SAFETY_CODE_MODULUS).padStart(6, "0");
}

function hkdfParams(salt, label, chat, epoch) {
  return { name: "HKDF", hash: "SHA-256", salt, info: joinFields(KDF_LABEL, label, chat, decimalField(epoch, "epoch")) };
}

/**
 * Derive the epoch's keys from either side. Resolves to {kV2c, kC2v, sasBytes, safetyCode};
 * the two keys are AES-GCM CryptoKeys, not extractable unless `options.extractable` (tests).
 * The peer key must be one of the two handshake keys and they must differ: a peer that
 * echoed our own key back would otherwise hold no secret of its own.
 */
export async function deriveSession(ownPrivateKey, peerPublicRaw, vPubRaw, cPubRaw, chat, epoch, options = {}) {
  const extractable = Boolean(options.extractable);
  const peer = toBytes(peerPublicRaw);
  const visitorKey = toBytes(vPubRaw);
  const counsellorKey = toBytes(cPubRaw);
  checkChatId(chat);
  decimalField(epoch, "epoch");
  if (equalBytes(visitorKey, counsellorKey)) throw new ProtocolError("bad_key", "visitor and counsellor keys must differ");
  if (!equalBytes(peer, visitorKey) && !equalBytes(peer, counsellorKey)) {
    throw new ProtocolError("bad_key", "peer key is not one of the handshake keys");
  }
  await importPublicKey(visitorKey, "ECDH");
  await importPublicKey(counsellorKey, "ECDH");
  const sharedSecret = await ecdhSharedSecret(ownPrivateKey, peer);
  const hkdfKey = await subtle.importKey("raw", sharedSecret, "HKDF", false, ["deriveKey", "deriveBits"]);
  // Z lives on only inside the non-extractable HKDF key.
  sharedSecret.fill(0);
  const salt = await sessionSalt(visitorKey, counsellorKey);
  const aesGcm256 = { name: "AES-GCM", length: 256 };
  const usages = ["encrypt", "decrypt"];
  const kV2c = await subtle.deriveKey(hkdfParams(salt, "v2c", chat, epoch), hkdfKey, aesGcm256, extractable, usages);
  const kC2v = await subtle.deriveKey(hkdfParams(salt, "c2v", chat, epoch), hkdfKey, aesGcm256, extractable, usages);
  const sasBytes = new Uint8Array(await subtle.deriveBits(hkdfParams(salt, "sas", chat, epoch), hkdfKey, 32));
  return { kV2c, kC2v, sasBytes, safetyCode: safetyCodeFromSas(sasBytes) };
}

// --- Messages ----------------------------------------------------------------

/** Length after padding: one 0x80 byte, then zeros up to a multiple of 256. */
export function paddedLength(plaintextLength) {
  return (Math.floor(plaintextLength / PADDING_BLOCK) + 1) * PADDING_BLOCK;
}

/** Pad at most `limit` bytes (16 KiB for messages): 0x80, then 0x00 to a multiple of 256, so sizes say little. */
export function pad(plaintext, limit = MAX_PLAINTEXT_BYTES) {
  const bytes = toBytes(plaintext);
  if (bytes.length > limit) throw new ProtocolError("too_long", `plaintext is longer than ${limit} bytes`);
  const padded = new Uint8Array(paddedLength(bytes.length));
  padded.set(bytes);
  padded[bytes.length] = 0x80;
  return padded;
}

/** Remove padding; throws ProtocolError unless it is exactly what pad() makes. */
export function unpad(padded, limit = MAX_PLAINTEXT_BYTES) {
  const bytes = toBytes(padded);
  if (bytes.length === 0 || bytes.length % PADDING_BLOCK !== 0) {
    throw new ProtocolError("bad_padding", "padded length is not a positive multiple of 256");
  }
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0x00) end -= 1;
  if (end === 0 || bytes[end - 1] !== 0x80) throw new ProtocolError("bad_padding", "padding marker 0x80 is missing");
  const plaintextLength = end - 1;
  // One canonical padding per length keeps sizes from carrying hidden bits.
  if (paddedLength(plaintextLength) !== bytes.length || plaintextLength > limit) {
    throw new ProtocolError("bad_padding", "padding is longer than needed or plaintext too long");
  }
  return bytes.slice(0, plaintextLength);
}

/** The AAD that binds a ciphertext to its chat, epoch, direction and seq. */
export function messageAad(chat, epoch, direction, seq) {
  return joinFields(MESSAGE_AAD_LABEL, checkChatId(chat), decimalField(epoch, "epoch"), checkDirection(direction), decimalField(seq, "seq"));
}

/** The AES-GCM nonce: seq as a 12-byte big-endian integer. */
export function messageNonce(seq) {
  decimalField(seq, "seq");
  const nonce = new Uint8Array(12);
  const view = new DataView(nonce.buffer);
  // A safe integer needs 53 bits: split it into two 32-bit halves for DataView.
  view.setUint32(4, Math.floor(seq / 2 ** 32), false);
  view.setUint32(8, seq >>> 0, false);
  return nonce;
}

/** Compact UTF-8 JSON of a message object, the same bytes Python's encoder makes. */
export function encodeMessage(message) {
  if (message === null || typeof message !== "object" || Array.isArray(message)) {
    throw new ProtocolError("bad_message", "a message must be a JSON object");
  }
  return utf8Encoder.encode(JSON.stringify(message));
}

/**
 * Seal a message object with the direction's AES-GCM CryptoKey; resolves to b64(ciphertext‖tag).
 * The caller must never reuse a seq with the same key (use SendCounter).
 */
export async function encryptMessage(key, chat, epoch, direction, seq, message) {
  const aad = messageAad(chat, epoch, direction, seq);
  const padded = pad(encodeMessage(message));
  const sealed = await subtle.encrypt({ name: "AES-GCM", iv: messageNonce(seq), additionalData: aad, tagLength: 128 }, key, padded);
  return b64e(new Uint8Array(sealed));
}

/** Open a sealed message; resolves to its JSON object or rejects with MessageDecryptionError. */
export async function decryptMessage(key, chat, epoch, direction, seq, ctB64) {
  const aad = messageAad(chat, epoch, direction, seq);
  let sealed;
  try {
    sealed = b64d(ctB64);
  } catch (error) {
    throw new MessageDecryptionError("ciphertext is not base64url");
  }
  if (sealed.length > paddedLength(MAX_PLAINTEXT_BYTES) + GCM_TAG_BYTES) {
    throw new MessageDecryptionError("ciphertext is too long");
  }
  let padded;
  try {
    padded = new Uint8Array(await subtle.decrypt({ name: "AES-GCM", iv: messageNonce(seq), additionalData: aad, tagLength: 128 }, key, sealed));
  } catch (error) {
    throw new MessageDecryptionError("message does not authenticate");
  }
  let message;
  try {
    message = JSON.parse(utf8Decoder.decode(unpad(padded)));
  } catch (error) {
    throw new MessageDecryptionError("plaintext is not padded UTF-8 JSON");
  }
  if (message === null || typeof message !== "object" || Array.isArray(message)) {
    throw new MessageDecryptionError("plaintext is not a JSON object");
  }
  return message;
}

/**
 * The receiver's next_seq for one direction of one epoch (protocol.md §6). Call check()
 * before decrypting and advance() only once the message authenticated: a forged frame
 * with a huge seq must not move the window.
 */
export class ReceiveWindow {
  constructor(nextSeq = 0) {
    decimalField(nextSeq, "nextSeq");
    this.nextSeq = nextSeq;
  }

  /** How many messages are missing before seq; throws ReplayedSequenceError if seq was seen. */
  check(seq) {
    decimalField(seq, "seq");
    if (seq < this.nextSeq) throw new ReplayedSequenceError(`seq ${seq} is below next_seq ${this.nextSeq}`);
    return seq - this.nextSeq;
  }

  /** Record seq as received; returns the gap before it (0 when nothing went missing). */
  advance(seq) {
    const gap = this.check(seq);
    this.nextSeq = seq + 1;
    return gap;
  }
}

/** The sender's seq for one direction of one epoch: each value is handed out once. */
export class SendCounter {
  #nextSeq = 0;

  nextSeq() {
    const seq = this.#nextSeq;
    decimalField(seq, "seq");
    this.#nextSeq = seq + 1;
    return seq;
  }
}

// --- Protocol v2: the visitor's identity key, message ids and receipts, hand-over bundles ----------

export const VK_TBS_LABEL = "helpline-vk-v2";
export const HANDOVER_LABEL = "helpline-handover-v2";
export const MESSAGE_ID_BYTES = 8;
export const MAX_RECEIPT_IDS = 64;
export const MAX_BUNDLE_PLAINTEXT_BYTES = 32 * 1024 - 1;
const ZERO_NONCE = new Uint8Array(12); // each key it is used with encrypts exactly one thing

async function checkPointB64(value, name) {
  if (typeof value !== "string") throw new ProtocolError("bad_key", `${name} must be b64 text`);
  await importPublicKey(b64d(value), "ECDSA");
  return value;
}

/** The chat's identity key (ECDSA P-256): signs each epoch's key. Extractable so the tab can keep it in
 * sessionStorage beside the resume token (docs/protocol.md, key continuity). */
export async function generateIdentityKeyPair() {
  const pair = await subtle.generateKey(ECDSA_P256, true, ["sign", "verify"]);
  return { privateKey: pair.privateKey, publicKey: pair.publicKey, publicRaw: await exportPublicKeyRaw(pair.publicKey) };
}

/** An identity key as JSON for sessionStorage, and back. */
export async function exportIdentityKey(pair) {
  return { jwk: await subtle.exportKey("jwk", pair.privateKey), ik: b64e(pair.publicRaw) };
}

export async function importIdentityKey(stored) {
  const privateKey = await subtle.importKey("jwk", stored.jwk, ECDSA_P256, true, ["sign"]);
  return { privateKey, publicRaw: b64d(stored.ik) };
}

/** tbs_vk: what the identity key signs for an epoch's key. */
export async function visitorKeyTbs(ik, vk) {
  return joinFields(VK_TBS_LABEL, await checkPointB64(ik, "ik"), await checkPointB64(vk, "vk"));
}

/** The `vsig` of a join or resume. */
export async function signVisitorKey(identityPrivateKey, ik, vk) {
  return b64e(await signRaw(identityPrivateKey, await visitorKeyTbs(ik, vk)));
}

/** True when vsig is ik's signature over vk; false on anything malformed. */
export async function verifyVisitorKey(ik, vk, vsig) {
  try {
    const tbs = await visitorKeyTbs(ik, vk);
    return await verifyRaw(await importPublicKey(b64d(ik), "ECDSA"), b64d(vsig), tbs);
  } catch (error) {
    return false;
  }
}

/** A message id: b64 of 8 random bytes, kept when the message is sent again under a later epoch. */
export function newMessageId() {
  return b64e(globalThis.crypto.getRandomValues(new Uint8Array(MESSAGE_ID_BYTES)));
}

export function isMessageId(value) {
  if (typeof value !== "string") return false;
  try {
    return b64d(value).length === MESSAGE_ID_BYTES;
  } catch (error) {
    return false;
  }
}

export function textMessage(body, id) {
  if (!isMessageId(id)) throw new ProtocolError("bad_message", "a message id is b64 of 8 bytes");
  return { t: "text", id, body };
}

export function receiptMessage(ids) {
  if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_RECEIPT_IDS || !ids.every(isMessageId)) {
    throw new ProtocolError("bad_message", "a receipt names 1 to 64 message ids");
  }
  return { t: "receipt", ids: [...ids] };
}

/** The ids a received receipt confirms; [] for anything that is not a well-formed receipt. */
export function receiptIds(message) {
  if (!message || message.t !== "receipt" || !Array.isArray(message.ids)) return [];
  if (message.ids.length === 0 || message.ids.length > MAX_RECEIPT_IDS) return [];
  return message.ids.filter(isMessageId);
}

function bundleAad(part, chat, ...fields) {
  return joinFields(HANDOVER_LABEL, part, checkChatId(chat), ...fields);
}

export async function bundleTbs(chat, device, ct) {
  const digest = new Uint8Array(await subtle.digest("SHA-256", utf8Encoder.encode(ct)));
  return bundleAad("sig", chat, checkDeviceId(device), b64e(digest));
}

function checkDeviceId(device) {
  let raw;
  try {
    raw = b64d(device);
  } catch (error) {
    throw new ProtocolError("bad_device", "device id is not b64");
  }
  if (raw.length !== DEVICE_ID_BYTES) throw new ProtocolError("bad_device", "device id must be 16 bytes");
  return device;
}

async function wrapKey(sharedSecret, epkRaw, ekRaw, chat, device) {
  const hkdfKey = await subtle.importKey("raw", sharedSecret, "HKDF", false, ["deriveKey"]);
  sharedSecret.fill(0);
  const salt = new Uint8Array(await subtle.digest("SHA-256", concatBytes(epkRaw, ekRaw)));
  const params = { name: "HKDF", hash: "SHA-256", salt, info: bundleAad("wrap", chat, checkDeviceId(device)) };
  return subtle.deriveKey(params, hkdfKey, { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
}

/**
 * Seal a hand-over bundle: `content` (an object) encrypted once, its key wrapped to each receiving device's
 * ECDH encryption key (`recipients`: device id → 65-byte ek), signed by the sending device.
 * `options.contentKey` (32 bytes) and `options.ephemeral` (device → {privateKey, publicRaw}) are for vectors.
 */
export async function sealBundle(content, chat, recipients, senderPrivateKey, senderDevice, senderCert, options = {}) {
  const devices = Object.keys(recipients);
  if (devices.length === 0 || devices.length > 8) throw new ProtocolError("bad_bundle", "a bundle goes to 1 to 8 devices");
  const keyBytes = options.contentKey ? toBytes(options.contentKey) : globalThis.crypto.getRandomValues(new Uint8Array(32));
  const contentKey = await subtle.importKey("raw", keyBytes, "AES-GCM", false, ["encrypt"]);
  const padded = pad(encodeMessage(content), MAX_BUNDLE_PLAINTEXT_BYTES);
  const ct = b64e(new Uint8Array(await subtle.encrypt({ name: "AES-GCM", iv: ZERO_NONCE, additionalData: bundleAad("content", chat), tagLength: 128 }, contentKey, padded)));
  const wraps = [];
  for (const device of devices) {
    const ekRaw = toBytes(recipients[device]);
    const own = (options.ephemeral && options.ephemeral[device]) || (await generateChatKeyPair());
    const shared = await ecdhSharedSecret(own.privateKey, ekRaw);
    const kek = await wrapKey(shared, own.publicRaw, ekRaw, chat, device);
    const wk = await subtle.encrypt({ name: "AES-GCM", iv: ZERO_NONCE, additionalData: bundleAad("wrap", chat, device), tagLength: 128 }, kek, keyBytes);
    wraps.push({ device, epk: b64e(own.publicRaw), wk: b64e(new Uint8Array(wk)) });
  }
  keyBytes.fill(0);
  const sig = b64e(await signRaw(senderPrivateKey, await bundleTbs(chat, senderDevice, ct)));
  return { ct, wraps, device: senderDevice, cert: { ...senderCert }, sig };
}

/**
 * Open a hand-over bundle with this device's encryption key: the sender's certificate must verify under the
 * pinned org key and its device key must have signed the bundle. Resolves to {content, sender} or rejects with
 * ProtocolError("bad_bundle").
 */
export async function openBundle(bundle, chat, ownDevice, ownEkPrivateKey, ownEkRaw, orgPublicB64, today = new Date()) {
  let sender;
  try {
    sender = await verifyCertificate(bundle.cert, orgPublicB64, today);
  } catch (error) {
    throw new ProtocolError("bad_bundle", "the sender's certificate does not verify");
  }
  try {
    if (sender.device !== bundle.device) throw new Error("not the signing device's certificate");
    const senderKey = await importPublicKey(b64d(bundle.cert.key), "ECDSA");
    if (!(await verifyRaw(senderKey, b64d(bundle.sig), await bundleTbs(chat, bundle.device, bundle.ct)))) {
      throw new Error("the signature does not verify");
    }
    const wrap = (bundle.wraps || []).find((entry) => entry.device === ownDevice);
    if (!wrap) throw new Error("no key for this device");
    const epkRaw = b64d(wrap.epk);
    const shared = await ecdhSharedSecret(ownEkPrivateKey, epkRaw);
    const kek = await wrapKey(shared, epkRaw, toBytes(ownEkRaw), chat, ownDevice);
    const keyBytes = new Uint8Array(await subtle.decrypt({ name: "AES-GCM", iv: ZERO_NONCE, additionalData: bundleAad("wrap", chat, ownDevice), tagLength: 128 }, kek, b64d(wrap.wk)));
    const contentKey = await subtle.importKey("raw", keyBytes, "AES-GCM", false, ["decrypt"]);
    keyBytes.fill(0);
    const padded = new Uint8Array(await subtle.decrypt({ name: "AES-GCM", iv: ZERO_NONCE, additionalData: bundleAad("content", chat), tagLength: 128 }, contentKey, b64d(bundle.ct)));
    const content = JSON.parse(utf8Decoder.decode(unpad(padded, MAX_BUNDLE_PLAINTEXT_BYTES)));
    if (content === null || typeof content !== "object" || Array.isArray(content)) throw new Error("not an object");
    return { content, sender };
  } catch (error) {
    throw new ProtocolError("bad_bundle", "the bundle does not open");
  }
}

// --- Proof of work -----------------------------------------------------------

/** Leading zero bits of a digest. */
export function powLeadingZeroBits(digest) {
  let count = 0;
  for (const byte of toBytes(digest)) {
    if (byte === 0) {
      count += 8;
      continue;
    }
    return count + Math.clz32(byte) - 24;
  }
  return count;
}

function checkPowBits(bits) {
  if (!Number.isInteger(bits) || bits < 0 || bits > 256) throw new ProtocolError("bad_bits", "bits must be 0 to 256");
}

/** True when the nonce is at most 32 bytes and SHA-256(challenge ‖ nonce) has `bits` leading zero bits. */
export async function powCheck(challengeRaw, nonceRaw, bits) {
  checkPowBits(bits);
  const nonce = toBytes(nonceRaw);
  if (nonce.length > MAX_POW_NONCE_BYTES) return false;
  const digest = await subtle.digest("SHA-256", concatBytes(toBytes(challengeRaw), nonce));
  return powLeadingZeroBits(new Uint8Array(digest)) >= bits;
}

/** `count` solver nonces from `start` on: 8-byte big-endian counters, the order both solvers (and Python) try. */
function counterNonces(start, count) {
  const nonces = [];
  for (let counter = start; counter < start + count; counter += 1) {
    const nonce = new Uint8Array(POW_SOLVER_NONCE_BYTES);
    const view = new DataView(nonce.buffer);
    view.setUint32(0, Math.floor(counter / 2 ** 32), false);
    view.setUint32(4, counter >>> 0, false);
    nonces.push(nonce);
  }
  return nonces;
}

/**
 * The smallest 8-byte big-endian counter nonce that meets `bits` (the same one Python finds).
 * Digests are asked for in batches because each WebCrypto call costs a trip through the
 * event loop; `options.signal` (an AbortSignal) stops the search.
 */
export async function powSolve(challengeRaw, bits, options = {}) {
  checkPowBits(bits);
  const batchSize = options.batchSize ?? 256;
  const challenge = toBytes(challengeRaw);
  for (let start = 0; start < Number.MAX_SAFE_INTEGER; start += batchSize) {
    if (options.signal?.aborted) throw new ProtocolError("aborted", "proof of work was cancelled");
    const nonces = counterNonces(start, batchSize);
    const digests = await Promise.all(nonces.map((nonce) => subtle.digest("SHA-256", concatBytes(challenge, nonce))));
    const found = digests.findIndex((digest) => powLeadingZeroBits(new Uint8Array(digest)) >= bits);
    if (found !== -1) return nonces[found];
  }
  throw new ProtocolError("pow_unsolved", "no nonce found");
}

// --- Proof of work, PBKDF2 (protocol.md §9) ------------------------------------
//
// One attempt is one PBKDF2-HMAC-SHA256 call: deriveBits runs natively, so the page works at about the
// speed of native code (the SHA-256 puzzle above costs one WebCrypto call per hash). Twin of crypto.py's
// work_digest, work_check and work_solve.

export const WORK_MIN_ITERATIONS = 1;
export const WORK_MAX_ITERATIONS = 8192;
export const WORK_MAX_BITS = 40;

function checkWorkParameters(iterations, bits) {
  if (!Number.isInteger(iterations) || iterations < WORK_MIN_ITERATIONS || iterations > WORK_MAX_ITERATIONS) {
    throw new ProtocolError("bad_iterations", `iterations must be ${WORK_MIN_ITERATIONS} to ${WORK_MAX_ITERATIONS}`);
  }
  if (!Number.isInteger(bits) || bits < 0 || bits > WORK_MAX_BITS) {
    throw new ProtocolError("bad_bits", `bits must be 0 to ${WORK_MAX_BITS}`);
  }
}

async function workKey(challengeRaw) {
  return subtle.importKey("raw", toBytes(challengeRaw), "PBKDF2", false, ["deriveBits"]);
}

function deriveWork(key, nonce, iterations) {
  return subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt: nonce, iterations }, key, 256);
}

/** PBKDF2-HMAC-SHA256(password = challenge, salt = nonce, iterations), 32 bytes. */
export async function workDigest(challengeRaw, nonceRaw, iterations) {
  checkWorkParameters(iterations, 0);
  return new Uint8Array(await deriveWork(await workKey(challengeRaw), toBytes(nonceRaw), iterations));
}

/** True when the nonce is at most 32 bytes and its work digest has `bits` leading zero bits. */
export async function workCheck(challengeRaw, nonceRaw, iterations, bits) {
  checkWorkParameters(iterations, bits);
  const nonce = toBytes(nonceRaw);
  if (nonce.length > MAX_POW_NONCE_BYTES) return false;
  return powLeadingZeroBits(await workDigest(challengeRaw, nonce, iterations)) >= bits;
}

/**
 * The smallest 8-byte big-endian counter nonce that meets `bits` (the one Python's work_solve finds).
 * `options.parallel` attempts are in flight at once (Chromium runs WebCrypto on a pool of threads, so a
 * phone's second big core helps); `options.signal` (an AbortSignal) stops the search.
 */
export async function workSolve(challengeRaw, iterations, bits, options = {}) {
  checkWorkParameters(iterations, bits);
  const parallel = Math.max(1, Math.min(8, options.parallel ?? 2));
  const key = await workKey(challengeRaw);
  for (let start = 0; start < Number.MAX_SAFE_INTEGER; start += parallel) {
    if (options.signal?.aborted) throw new ProtocolError("aborted", "proof of work was cancelled");
    const nonces = counterNonces(start, parallel);
    const digests = await Promise.all(nonces.map((nonce) => deriveWork(key, nonce, iterations)));
    const found = digests.findIndex((digest) => powLeadingZeroBits(new Uint8Array(digest)) >= bits);
    if (found !== -1) return nonces[found];
  }
  throw new ProtocolError("pow_unsolved", "no nonce found");
}

// Mailbox v1 cryptography for the browser (docs/mailbox.md): the twin of securemessages/crypto.py.
//
// Codename → PBKDF2-SHA-256 (600 000 rounds, one native WebCrypto call) → HKDF → thread id, access secret,
// the mailbox's ECDH key and the visitor's ECDSA key. Each message: a fresh content key, AES-256-GCM over the
// padded JSON (the chat's padding), the content key wrapped by ECDH + HKDF + AES-GCM to every recipient, and
// the sender's signature. Encodings, padding and certificates are the chat's (../chat/protocol.js).
// WebCrypto only, no DOM, no eval: like protocol.js it runs under the strictest CSP.
import {
  b64d,
  b64e,
  bytesToHex,
  ecdhSharedSecret,
  encodeMessage,
  exportPublicKeyRaw,
  generateChatKeyPair,
  importPublicKey,
  joinFields,
  MAX_PLAINTEXT_BYTES,
  pad,
  paddedLength,
  ProtocolError,
  signRaw,
  unpad,
  verifyCertificate,
  verifyRaw,
} from "../chat/protocol.js";

const subtle = globalThis.crypto.subtle;
const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder("utf-8", { fatal: true });

export const LABEL = "helpline-mailbox-v1";
export const CODENAME_WORDS = 8;
export const PBKDF2_ITERATIONS = 600000;
export const VISITOR = "visitor";
export const MAILBOX_RECIPIENT = "mailbox";
export const ENVELOPE_VERSION = 1;
const ID_BYTES = 16;
const CONTENT_KEY_BYTES = 32;
const GCM_TAG_BYTES = 16;
const WRAPPED_KEY_BYTES = CONTENT_KEY_BYTES + GCM_TAG_BYTES;
const MIN_CT_BYTES = 256 + GCM_TAG_BYTES;
const MAX_CT_BYTES = paddedLength(MAX_PLAINTEXT_BYTES) + GCM_TAG_BYTES;
const ZERO_NONCE = new Uint8Array(12);
const ECDH_P256 = { name: "ECDH", namedCurve: "P-256" };
const ECDSA_P256 = { name: "ECDSA", namedCurve: "P-256" };

// --- P-256 arithmetic, only to compute a public point from a derived scalar ----------------------------
// WebCrypto cannot turn a scalar into a key pair: importing a private key needs its public point too. This
// computes Q = d·G with BigInt (not constant-time; the scalar is in this page's memory anyway) and WebCrypto
// then imports {d, x, y}, checking that they belong together. The vectors hold it to Python's result.
const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const GX = 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n;
const GY = 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n;

const mod = (value) => ((value % P) + P) % P;

function modPow(base, exponent) {
  let result = 1n;
  let square = mod(base);
  let rest = exponent;
  while (rest > 0n) {
    if (rest & 1n) result = (result * square) % P;
    square = (square * square) % P;
    rest >>= 1n;
  }
  return result;
}

// Jacobian coordinates [X, Y, Z]; Z = 0 is the point at infinity.
function pointDouble([x, y, z]) {
  if (z === 0n || y === 0n) return [0n, 1n, 0n];
  const ySquared = mod(y * y);
  const s = mod(4n * x * ySquared);
  const zSquared = mod(z * z);
  const m = mod(3n * (x - zSquared) * (x + zSquared)); // a = -3
  const x3 = mod(m * m - 2n * s);
  return [x3, mod(m * (s - x3) - 8n * ySquared * ySquared), mod(2n * y * z)];
}

function pointAdd(first, second) {
  const [x1, y1, z1] = first;
  const [x2, y2, z2] = second;
  if (z1 === 0n) return second;
  if (z2 === 0n) return first;
  const z1Squared = mod(z1 * z1);
  const z2Squared = mod(z2 * z2);
  const u1 = mod(x1 * z2Squared);
  const u2 = mod(x2 * z1Squared);
  const s1 = mod(y1 * z2Squared * z2);
  const s2 = mod(y2 * z1Squared * z1);
  if (u1 === u2) return s1 === s2 ? pointDouble(first) : [0n, 1n, 0n];
  const h = mod(u2 - u1);
  const r = mod(s2 - s1);
  const hSquared = mod(h * h);
  const hCubed = mod(hSquared * h);
  const x3 = mod(r * r - hCubed - 2n * u1 * hSquared);
  return [x3, mod(r * (u1 * hSquared - x3) - s1 * hCubed), mod(h * z1 * z2)];
}

function publicPoint(scalar) {
  let result = [0n, 1n, 0n];
  for (let bit = 255n; bit >= 0n; bit -= 1n) {
    result = pointDouble(result);
    if ((scalar >> bit) & 1n) result = pointAdd(result, [GX, GY, 1n]);
  }
  const zInverse = modPow(result[2], P - 2n);
  const zInverseSquared = mod(zInverse * zInverse);
  return [mod(result[0] * zInverseSquared), mod(result[1] * zInverseSquared * zInverse)];
}

function bigIntFromBytes(bytes) {
  return bytes.length ? BigInt(`0x${bytesToHex(bytes)}`) : 0n;
}

function bytesFromBigInt(value, length) {
  return Uint8Array.from(value.toString(16).padStart(length * 2, "0").match(/../g), (pair) => parseInt(pair, 16));
}

/** A P-256 scalar from 48 uniform bytes: (OS2IP(bytes) mod (n − 1)) + 1, as 32 bytes. */
export function scalarFromBytes(source) {
  if (source.length !== 48) throw new ProtocolError("bad_scalar", "a scalar is made from 48 bytes");
  return bytesFromBigInt((bigIntFromBytes(source) % (N - 1n)) + 1n, 32);
}

/** The 65-byte public point of a 32-byte scalar. */
export function publicPointRaw(scalarBytes) {
  const [x, y] = publicPoint(bigIntFromBytes(scalarBytes));
  const raw = new Uint8Array(65);
  raw[0] = 0x04;
  raw.set(bytesFromBigInt(x, 32), 1);
  raw.set(bytesFromBigInt(y, 32), 33);
  return raw;
}

async function importScalar(scalarBytes, publicRaw, algorithm, usages, extractable = false) {
  const jwk = {
    kty: "EC", crv: "P-256", ext: extractable,
    d: b64e(scalarBytes), x: b64e(publicRaw.slice(1, 33)), y: b64e(publicRaw.slice(33, 65)),
  };
  return subtle.importKey("jwk", jwk, algorithm, extractable, usages);
}

// --- The codename --------------------------------------------------------------------------------------

/** `count` words drawn uniformly from `words` with crypto.getRandomValues (rejection sampling, no bias). */
export function makeCodename(words, count = CODENAME_WORDS) {
  if (!Array.isArray(words) || !words.length || new Set(words).size !== words.length) {
    throw new ProtocolError("bad_wordlist", "the wordlist must be non-empty with no repeated word");
  }
  const limit = Math.floor(0x100000000 / words.length) * words.length;
  const chosen = [];
  const sample = new Uint32Array(1);
  while (chosen.length < count) {
    globalThis.crypto.getRandomValues(sample);
    if (sample[0] < limit) chosen.push(words[sample[0] % words.length]);
  }
  return chosen.join(" ");
}

/** Runs of ASCII letters, lowercased, one space between: what the key derivation reads. */
export function normaliseCodename(text) {
  const lowered = String(text).replace(/[A-Z]/g, (letter) => letter.toLowerCase());
  return (lowered.match(/[a-z]+/g) || []).join(" ");
}

async function hkdfBits(secretKey, salt, info, length) {
  return new Uint8Array(await subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt, info }, secretKey, length * 8));
}

/**
 * Everything a codename opens: {thread, access (bytes), accessB64, mk, sk, mkRaw, skRaw, boxKey (ECDH
 * private CryptoKey), signKey (ECDSA private CryptoKey)}. Both private keys are non-extractable unless
 * `options.extractable` (tests); `options.iterations` other than 600 000 are for tests only.
 */
export async function deriveCodenameKeys(codename, options = {}) {
  const normalised = normaliseCodename(codename);
  if (!normalised) throw new ProtocolError("bad_codename", "the codename has no words");
  const iterations = options.iterations ?? PBKDF2_ITERATIONS;
  const password = await subtle.importKey("raw", utf8.encode(normalised), "PBKDF2", false, ["deriveBits"]);
  const seed = new Uint8Array(await subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt: utf8.encode(LABEL), iterations }, password, 256));
  const seedKey = await subtle.importKey("raw", seed, "HKDF", false, ["deriveBits"]);
  const seedHex = options.extractable ? bytesToHex(seed) : undefined;
  seed.fill(0);
  const empty = new Uint8Array(0);
  const part = (label, length) => hkdfBits(seedKey, empty, joinFields(LABEL, label), length);
  const thread = b64e(await part("thread", ID_BYTES));
  const access = await part("access", 32);
  const boxScalar = scalarFromBytes(await part("box", 48));
  const signScalar = scalarFromBytes(await part("sign", 48));
  const mkRaw = publicPointRaw(boxScalar);
  const skRaw = publicPointRaw(signScalar);
  const extractable = Boolean(options.extractable);
  const boxKey = await importScalar(boxScalar, mkRaw, ECDH_P256, ["deriveBits"], extractable);
  const signKey = await importScalar(signScalar, skRaw, ECDSA_P256, ["sign"], extractable);
  const scalars = extractable ? { box: bytesToHex(boxScalar), sign: bytesToHex(signScalar), seed: seedHex } : undefined;
  boxScalar.fill(0);
  signScalar.fill(0);
  return { thread, access, accessB64: b64e(access), mk: b64e(mkRaw), sk: b64e(skRaw), mkRaw, skRaw, boxKey, signKey, scalars };
}

// --- Sealing a body ---------------------------------------------------------------------------------------

function checkId(value, what) {
  let raw;
  try {
    raw = b64d(value);
  } catch (error) {
    throw new ProtocolError("bad_envelope", `${what} is not base64url`);
  }
  if (raw.length !== ID_BYTES) throw new ProtocolError("bad_envelope", `${what} must be b64 of 16 bytes`);
  return value;
}

const checkSender = (sender) => (sender === VISITOR ? sender : checkId(sender, "device"));
const checkRecipient = (name) => (name === MAILBOX_RECIPIENT ? name : checkId(name, "device"));

export function newMessageId() {
  return b64e(globalThis.crypto.getRandomValues(new Uint8Array(ID_BYTES)));
}

export function bodyAad(thread, id, sender) {
  return joinFields("helpline-mailbox-body-v1", checkId(thread, "thread"), checkId(id, "id"), checkSender(sender));
}

function checkSealedLength(sealed) {
  if (sealed.length < MIN_CT_BYTES || sealed.length > MAX_CT_BYTES || (sealed.length - GCM_TAG_BYTES) % 256) {
    throw new ProtocolError("bad_envelope", "ct has a length no padded body can have");
  }
}

const aesKey = (raw, usage) => subtle.importKey("raw", raw, "AES-GCM", false, [usage]);

/** AES-256-GCM of the padded JSON message under a content key used for this one message (nonce zero). */
export async function sealBody(contentKey, thread, id, sender, message) {
  const aad = bodyAad(thread, id, sender);
  const sealed = await subtle.encrypt({ name: "AES-GCM", iv: ZERO_NONCE, additionalData: aad },
    await aesKey(contentKey, "encrypt"), pad(encodeMessage(message)));
  return b64e(new Uint8Array(sealed));
}

/** The message object inside `ct`; throws ProtocolError("undecryptable") if anything is wrong. */
export async function openBody(contentKey, thread, id, sender, ct) {
  const aad = bodyAad(thread, id, sender);
  const sealed = b64d(ct);
  checkSealedLength(sealed);
  let message;
  try {
    const padded = await subtle.decrypt({ name: "AES-GCM", iv: ZERO_NONCE, additionalData: aad },
      await aesKey(contentKey, "decrypt"), sealed);
    message = JSON.parse(utf8Strict.decode(unpad(new Uint8Array(padded))));
  } catch (error) {
    throw new ProtocolError("undecryptable", "the body does not authenticate or is not padded JSON");
  }
  if (message === null || typeof message !== "object" || Array.isArray(message)) {
    throw new ProtocolError("undecryptable", "the body is not a JSON object");
  }
  return message;
}

// --- Signatures ---------------------------------------------------------------------------------------------

export async function messageTbs(thread, id, sender, ct) {
  const digest = b64e(new Uint8Array(await subtle.digest("SHA-256", b64d(ct))));
  return joinFields("helpline-mailbox-msg-v1", checkId(thread, "thread"), checkId(id, "id"), checkSender(sender), digest);
}

export async function signMessage(privateKey, thread, id, sender, ct) {
  return b64e(await signRaw(privateKey, await messageTbs(thread, id, sender, ct)));
}

/** True when `sig` is the ECDSA signature of the key `publicRaw` over the message; false for anything malformed. */
export async function verifyMessage(publicRaw, thread, id, sender, ct, sig) {
  try {
    const publicKey = await importPublicKey(publicRaw, "ECDSA");
    return await verifyRaw(publicKey, b64d(sig), await messageTbs(thread, id, sender, ct));
  } catch (error) {
    return false;
  }
}

// --- Wrapping the content key ---------------------------------------------------------------------------------

async function keyEncryptionKey(shared, epkRaw, recipientRaw, thread, id, recipient, usage) {
  const salt = new Uint8Array(await subtle.digest("SHA-256", new Uint8Array([...epkRaw, ...recipientRaw])));
  const info = joinFields(LABEL, "wrap", checkId(thread, "thread"), checkId(id, "id"), checkRecipient(recipient));
  const hkdfKey = await subtle.importKey("raw", shared, "HKDF", false, ["deriveBits"]);
  return aesKey(await hkdfBits(hkdfKey, salt, info, 32), usage);
}

/**
 * The content key wrapped to one recipient's ECDH point: {epk, wk}. `ephemeral` ({privateKey, publicRaw})
 * is for the test vectors only; every real wrap makes a new key pair.
 */
export async function wrapContentKey(contentKey, recipientRaw, thread, id, recipient, ephemeral = null) {
  checkRecipient(recipient);
  const own = ephemeral || (await generateChatKeyPair());
  const shared = await ecdhSharedSecret(own.privateKey, recipientRaw);
  const kek = await keyEncryptionKey(shared, own.publicRaw, recipientRaw, thread, id, recipient, "encrypt");
  shared.fill(0);
  const sealed = await subtle.encrypt({ name: "AES-GCM", iv: ZERO_NONCE, additionalData: new Uint8Array(0) }, kek, contentKey);
  return { epk: b64e(own.publicRaw), wk: b64e(new Uint8Array(sealed)) };
}

/** The content key from a wrap, with the recipient's ECDH private key and its public point. */
export async function unwrapContentKey(ownPrivateKey, ownPublicRaw, wrap, thread, id, recipient) {
  try {
    const epkRaw = b64d(wrap.epk);
    const sealed = b64d(wrap.wk);
    if (sealed.length !== WRAPPED_KEY_BYTES) throw new Error("length");
    const shared = await ecdhSharedSecret(ownPrivateKey, epkRaw);
    const kek = await keyEncryptionKey(shared, epkRaw, ownPublicRaw, thread, id, recipient, "decrypt");
    shared.fill(0);
    return new Uint8Array(await subtle.decrypt({ name: "AES-GCM", iv: ZERO_NONCE, additionalData: new Uint8Array(0) }, kek, sealed));
  } catch (error) {
    throw new ProtocolError("undecryptable", "the key wrap does not open with this key");
  }
}

// --- Envelopes --------------------------------------------------------------------------------------------------

/**
 * Seal `message` for `recipients` (a Map or object: "mailbox" or a device id → 65-byte ECDH point) and sign it
 * with `signingKey` (the visitor's ECDSA key, or a counsellor device's key). Resolves to the JSON envelope.
 */
export async function buildEnvelope(thread, sender, signingKey, message, recipients, id = newMessageId()) {
  const contentKey = globalThis.crypto.getRandomValues(new Uint8Array(CONTENT_KEY_BYTES));
  try {
    const ct = await sealBody(contentKey, thread, id, sender, message);
    const keys = {};
    for (const [name, point] of recipients instanceof Map ? recipients : Object.entries(recipients)) {
      keys[name] = await wrapContentKey(contentKey, point, thread, id, name);
    }
    return { v: ENVELOPE_VERSION, id, from: sender, ct, sig: await signMessage(signingKey, thread, id, sender, ct), keys };
  } finally {
    contentKey.fill(0);
  }
}

/** Open a stored message with the wrap for `recipient`: resolves to its message object. */
export async function openEnvelope(message, thread, recipient, ownPrivateKey, ownPublicRaw) {
  const wrap = message.key || (message.keys && message.keys[recipient]);
  if (!wrap) throw new ProtocolError("no_key", "this message was not wrapped to this key");
  const contentKey = await unwrapContentKey(ownPrivateKey, ownPublicRaw, wrap, thread, message.id, recipient);
  try {
    return await openBody(contentKey, thread, message.id, message.from, message.ct);
  } finally {
    contentKey.fill(0);
  }
}

/**
 * Whether a stored message really comes from its sender: the visitor's thread key `sk`, or a counsellor device
 * whose certificate verifies under the pinned organisation key on the day the message was written. Resolves to
 * {ok, pseudonym}.
 */
export async function checkMessageSender(message, thread, sk, orgPublicB64) {
  if (message.from === VISITOR) {
    return { ok: await verifyMessage(b64d(sk), thread, message.id, VISITOR, message.ct, message.sig), pseudonym: "" };
  }
  try {
    const certified = await verifyCertificate(message.cert, orgPublicB64, message.day);
    const ok = certified.device === message.from
      && (await verifyMessage(certified.publicRaw, thread, message.id, message.from, message.ct, message.sig));
    return { ok, pseudonym: certified.pseudonym };
  } catch (error) {
    return { ok: false, pseudonym: "" };
  }
}

// --- Counsellor devices' encryption keys ----------------------------------------------------------------------

export function ekBindingTbs(device, ek) {
  return joinFields("helpline-mailbox-ek-v1", checkId(device, "device"), ek);
}

export async function signEkBinding(devicePrivateKey, device, ek) {
  return b64e(await signRaw(devicePrivateKey, ekBindingTbs(device, ek)));
}

/**
 * The team a message is sealed to: each {cert, ek, ek_sig} whose certificate verifies under the pinned
 * organisation key today and whose ek the certified device key signed. Resolves to [{device, pseudonym, ekRaw}];
 * anything that does not verify is left out, never trusted.
 */
export async function verifiedTeam(devices, orgPublicB64, today = new Date()) {
  const team = [];
  for (const entry of Array.isArray(devices) ? devices : []) {
    try {
      const certified = await verifyCertificate(entry.cert, orgPublicB64, today);
      const ekRaw = b64d(entry.ek);
      await importPublicKey(ekRaw, "ECDH");
      const deviceKey = await importPublicKey(certified.publicRaw, "ECDSA");
      if (await verifyRaw(deviceKey, b64d(entry.ek_sig), ekBindingTbs(certified.device, entry.ek))) {
        team.push({ device: certified.device, pseudonym: certified.pseudonym, ekRaw });
      }
    } catch (error) {
      // A device that does not verify is not written to.
    }
  }
  return team;
}

/** A new ECDH key for a counsellor device (non-extractable private half) with its public point. */
export async function generateDeviceEncryptionKey() {
  const pair = await subtle.generateKey(ECDH_P256, false, ["deriveBits"]);
  return { privateKey: pair.privateKey, publicRaw: await exportPublicKeyRaw(pair.publicKey) };
}

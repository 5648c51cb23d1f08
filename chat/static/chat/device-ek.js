// The counsellor device's encryption key `ek` (ECDH P-256), shared by the chat console and the secure-message inbox:
// made once in this browser with a non-extractable private half, bound to the certified device key by that key's
// signature, and registered at POST /mailbox/staff/device-key/ (docs/mailbox.md §5, docs/protocol.md §3). Secure
// messages and hand-over bundles are sealed to it; the private half never leaves this browser's IndexedDB.
import { b64e } from "./protocol.js";
import { saveDevice } from "./device-store.js";
import { generateDeviceEncryptionKey, signEkBinding } from "../securemessages/mailbox.js";

/**
 * Make sure this certified device (a device-store record) has an encryption key the server lists for it.
 * `request(method, path, body)` resolves to the JSON answer (staff session, CSRF header). Resolves to the record
 * with `encryptionKey` and `encryptionPublic`; rejects when the key cannot be registered.
 */
export async function ensureEncryptionKey(record, request) {
  const { devices } = await request("GET", "/mailbox/team/");
  const listed = (devices || []).some((entry) => entry.cert && entry.cert.device === record.device && entry.ek === record.encryptionPublic);
  if (listed && record.encryptionKey) return record;
  const { cert, ...stored } = record; // only the keys go to the store, never what the server said about them
  let current = stored;
  if (!current.encryptionKey) {
    const pair = await generateDeviceEncryptionKey();
    current = { ...current, encryptionKey: pair.privateKey, encryptionPublic: b64e(pair.publicRaw) };
  }
  const ekSig = await signEkBinding(current.privateKey, current.device, current.encryptionPublic);
  await request("POST", "/mailbox/staff/device-key/", { device: current.device, ek: current.encryptionPublic, ek_sig: ekSig });
  await saveDevice(current);
  return cert ? { ...current, cert } : current;
}

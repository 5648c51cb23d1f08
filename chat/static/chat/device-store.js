// The counsellor device's keys in this browser's IndexedDB, shared by the chat console and the secure-message
// inbox. A record is {user, device, privateKey, publicKey} (the ECDSA device key, made by the console) and,
// once the inbox has made one, {encryptionKey, encryptionPublic} (its ECDH key for secure messages).
// IndexedDB keeps non-extractable CryptoKeys usable, and nothing else can read them out.
const DB_NAME = "helpline-console";
const DB_STORE = "devices";

function openDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(DB_STORE, { keyPath: "user" });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function dbDo(mode, action) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const request = action(db.transaction(DB_STORE, mode).objectStore(DB_STORE));
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  }).finally(() => db.close());
}

export const loadDevice = (user) => dbDo("readonly", (store) => store.get(user));
export const saveDevice = (record) => dbDo("readwrite", (store) => store.put(record));
export const forgetDevice = (user) => dbDo("readwrite", (store) => store.delete(user));

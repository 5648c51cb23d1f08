// The console's transcripts of the chats it holds, kept only in this browser so that a reload or a short network
// drop loses nothing (docs/privacy.md, "The counsellor's console"). IndexedDB "helpline-console-chats": one record
// per chat, sealed with AES-256-GCM under a key made here, non-extractable, kept in the same database (so the
// files on disk hold no readable text; the browser profile holds the key). The page carries a tag of the staff
// session: a store made under another session (after a sign-out, or by someone else in this browser) is wiped
// before anything in it is read. The console removes a chat's record once its wrap-up is saved or it is closed.
const DB_NAME = "helpline-console-chats";
const META = "meta"; // {name: "store", tag, key}
const CHATS = "chats"; // {chat, iv, ct}
const subtle = globalThis.crypto.subtle;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function request(target) {
  return new Promise((resolve, reject) => {
    target.onsuccess = () => resolve(target.result);
    target.onerror = () => reject(target.error);
  });
}

function openDb() {
  const opening = indexedDB.open(DB_NAME, 1);
  opening.onupgradeneeded = () => {
    opening.result.createObjectStore(META, { keyPath: "name" });
    opening.result.createObjectStore(CHATS, { keyPath: "chat" });
  };
  return request(opening).then((db) => {
    db.onversionchange = () => db.close(); // never block a deletion (a test, or the browser clearing data)
    return db;
  });
}

/** Run `action(stores)` in one transaction; resolves to its result once the transaction has committed. */
function inTransaction(db, mode, action) {
  return new Promise((resolve, reject) => {
    const transaction = db.transaction([META, CHATS], mode);
    let result;
    Promise.resolve(action({ meta: transaction.objectStore(META), chats: transaction.objectStore(CHATS) }))
      .then((value) => { result = value; }, reject);
    transaction.oncomplete = () => resolve(result);
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error);
  });
}

/** Delete the whole store, records and key, from a page that has no console: after a sign-out from any staff
 * page (chat/signed-out.js). A console open in another tab closes its copy first (openDb), so nothing blocks it. */
export function forgetConsoleChats() {
  return request(indexedDB.deleteDatabase(DB_NAME));
}

export class TranscriptStore {
  constructor(db, key) {
    this.db = db;
    this.key = key;
  }

  /** The store of this staff session (`tag`): one of another session is wiped first, and a new key made. */
  static async open(tag) {
    const db = await openDb();
    const meta = await inTransaction(db, "readonly", ({ meta: store }) => request(store.get("store")));
    if (meta && meta.tag === tag && meta.key) return new TranscriptStore(db, meta.key);
    const key = await subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
    await inTransaction(db, "readwrite", ({ meta: metaStore, chats }) => {
      chats.clear();
      metaStore.clear();
      metaStore.put({ name: "store", tag, key });
    });
    return new TranscriptStore(db, key);
  }

  async save(chat, record) {
    const iv = globalThis.crypto.getRandomValues(new Uint8Array(12));
    const plain = encoder.encode(JSON.stringify(record));
    const ct = await subtle.encrypt({ name: "AES-GCM", iv, additionalData: encoder.encode(chat) }, this.key, plain);
    await inTransaction(this.db, "readwrite", ({ chats }) => chats.put({ chat, iv, ct }));
  }

  /** Every record this store can open; one it cannot (damaged, or sealed under an earlier key) is dropped. */
  async loadAll() {
    const rows = await inTransaction(this.db, "readonly", ({ chats }) => request(chats.getAll()));
    const records = [];
    for (const row of rows) {
      try {
        const plain = await subtle.decrypt({ name: "AES-GCM", iv: row.iv, additionalData: encoder.encode(row.chat) }, this.key, row.ct);
        records.push(JSON.parse(decoder.decode(plain)));
      } catch (error) {
        await this.remove(row.chat);
      }
    }
    return records;
  }

  remove(chat) {
    return inTransaction(this.db, "readwrite", ({ chats }) => chats.delete(chat));
  }

  /** Everything, the key included: at sign-out. */
  wipe() {
    return inTransaction(this.db, "readwrite", ({ meta, chats }) => {
      chats.clear();
      meta.clear();
    });
  }
}

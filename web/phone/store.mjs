// SPDX-License-Identifier: MIT
// The phone's outbox on disk: one IndexedDB object store of scan items keyed
// by scan id, so scans survive a reload, a crash of the tab or a dead battery
// until the till has them. Falls back to memory (with `durable` false) where
// IndexedDB is unavailable, e.g. some private-browsing modes.

const DB_NAME = 'scanbridge-phone';
const STORE = 'outbox';

function req(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = tx.onerror = () => reject(tx.error || new Error('transaction aborted'));
  });
}

class IdbStore {
  constructor(db) { this.db = db; this.durable = true; }

  async all() {
    const tx = this.db.transaction(STORE, 'readonly');
    return req(tx.objectStore(STORE).getAll());
  }

  /** Writes items; resolves once the transaction has committed. */
  async put(...items) {
    const tx = this.db.transaction(STORE, 'readwrite');
    const os = tx.objectStore(STORE);
    for (const it of items) os.put(it);
    return done(tx);
  }

  async remove(...ids) {
    const tx = this.db.transaction(STORE, 'readwrite');
    const os = tx.objectStore(STORE);
    for (const id of ids) os.delete(id);
    return done(tx);
  }
}

export class MemoryStore {
  constructor() { this.map = new Map(); this.durable = false; }
  async all() { return [...this.map.values()].map((it) => structuredClone(it)); }
  async put(...items) { for (const it of items) this.map.set(it.id, structuredClone(it)); }
  async remove(...ids) { for (const id of ids) this.map.delete(id); }
}

/** Opens the outbox store (IndexedDB, else memory). */
export async function openStore(idb = globalThis.indexedDB) {
  if (!idb) return new MemoryStore();
  try {
    const open = idb.open(DB_NAME, 1);
    open.onupgradeneeded = () => {
      const db = open.result;
      if (!db.objectStoreNames.contains(STORE)) db.createObjectStore(STORE, { keyPath: 'id' });
    };
    const db = await req(open);
    return new IdbStore(db);
  } catch {
    return new MemoryStore();
  }
}

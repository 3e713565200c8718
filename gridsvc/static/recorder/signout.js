// Signing out on a phone that recorded patrols: the recorder's caches and IndexedDB queue go with
// the sign-in, but only once nothing waits to upload: what was recorded is never thrown away.
import { DB_NAME, openQueue, destroyQueue } from './queue.js';

const RECORDER_PAGE = '/patrols/record';

async function queueExists() {
  if (!('indexedDB' in window)) return false;
  if (typeof indexedDB.databases !== 'function') return true;
  return (await indexedDB.databases()).some((db) => db.name === DB_NAME);
}

async function forgetRecorder() {
  if (!(await queueExists())) return;
  const queue = await openQueue();
  const waiting = await queue.waiting();
  queue.close();
  const names = 'caches' in window ? (await caches.keys()).filter((name) => name.startsWith('gridsvc-recorder-')) : [];
  if (waiting.points > 0 || waiting.walks > 0 || waiting.running > 0 || waiting.refused > 0) {
    // Kept: it uploads at the recorder's next open. The cached page is this account's, though
    // (its name, its CSRF token): the next person to sign in must not open it offline.
    await Promise.all(names.map(async (name) => (await caches.open(name)).delete(RECORDER_PAGE)));
    return;
  }
  await destroyQueue();
  await Promise.all(names.map((name) => caches.delete(name)));
}

document.querySelectorAll('form[data-signout]').forEach((form) => {
  form.addEventListener('submit', (event) => {
    if (form.dataset.forgotten === 'yes') return;
    event.preventDefault();
    forgetRecorder().catch(() => {}).finally(() => {
      form.dataset.forgotten = 'yes';
      form.submit();
    });
  });
});

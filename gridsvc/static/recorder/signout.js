// Signing out on a phone that recorded patrols: the recorder's caches and IndexedDB queue go with
// the sign-in, but only once nothing waits to upload: what was recorded is never thrown away.
import { DB_NAME, openQueue, destroyQueue } from './queue.js';

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
  if (waiting.points > 0 || waiting.walks > 0) return; // kept: it uploads at the recorder's next open
  await destroyQueue();
  if ('caches' in window) {
    const names = await caches.keys();
    await Promise.all(names.filter((name) => name.startsWith('gridsvc-recorder-')).map((name) => caches.delete(name)));
  }
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

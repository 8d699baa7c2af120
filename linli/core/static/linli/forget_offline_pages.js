/*
 * Runs on the log-in page, that is after logging out or when a session ended: deletes the pages
 * kept on this phone for working without a network (the door-knock lists, kept by
 * /screening/door-knock-worker.js), so the next person to use the phone finds none of them.
 * Records still waiting to be sent (localStorage) are kept: they are sent after logging in.
 */
(() => {
  "use strict";
  if (!("caches" in window)) return;
  caches
    .keys()
    .then((keys) => Promise.all(keys.filter((key) => key.startsWith("linli-dk-pages")).map((key) => caches.delete(key))))
    .then(() => document.documentElement.setAttribute("data-offline-pages", "forgotten"))
    .catch(() => {});
})();

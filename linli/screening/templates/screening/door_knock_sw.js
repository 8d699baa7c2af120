{# The door-knock service worker. Expects: config (JSON: assets, staticPrefix, pagePattern, offlineTitle, offlineText, lang). Served by views.door_knock.door_knock_worker, which puts the version in. #}/*
 * Door-knock pages without a network (敲门行动 in a stairwell).
 *
 * - Static files (the page's CSS and script, base.html's): cache first. Their names carry a
 *   hash of their content in production (whitenoise's manifest), so a cached file is never
 *   stale; a new version of this worker drops the old cache.
 * - The door-knock pages (/screening/campaigns/<id>/door-knock/?…): network first, and each
 *   page that came back whole (200, HTML, not a redirect to the log-in page) is kept; without a
 *   network the kept copy is shown, so a reload in the stairwell still opens the list. Every
 *   other request, and every POST (the visits themselves go through the page's own queue in
 *   localStorage), passes through untouched.
 * - What is kept of a page is what the page showed its user, masked as it was. The log-in page
 *   (after logging out, or when a session ended) deletes the kept pages
 *   (static/linli/forget_offline_pages.js), and so does a page of another user asking to be
 *   kept; at most MAX_PAGES pages are kept, the oldest go first.
 *
 * Messages from a page: {type: "keep", url, user, assets, refresh} keeps that page (fetched
 * again here, with the session's cookies, unless it is kept already and `refresh` is false)
 * and the files it loaded, and answers {type: "kept", url, ok}.
 */
"use strict";

const CONFIG = {{ config|safe }};
const VERSION = "__VERSION__";
const ASSETS = `linli-dk-assets-${VERSION}`;
const PAGES = "linli-dk-pages";
const OWNER_KEY = "/__linli-dk-owner__";
const MAX_PAGES = 40;
const PAGE_PATTERN = new RegExp(CONFIG.pagePattern);

function isPage(url) {
  return url.origin === self.location.origin && PAGE_PATTERN.test(url.pathname);
}

function isAsset(url) {
  return url.origin === self.location.origin && url.pathname.startsWith(CONFIG.staticPrefix);
}

function pageKey(href) {
  const url = new URL(href, self.location.origin);
  url.hash = "";
  return url.href;
}

async function cacheAssets(urls) {
  const cache = await caches.open(ASSETS);
  // One by one: a file that went away must not stop the others from being kept.
  await Promise.all(
    urls.map(async (href) => {
      const url = new URL(href, self.location.origin);
      if (!isAsset(url) || (await cache.match(url.href))) return;
      try {
        const response = await fetch(url.href, { credentials: "same-origin" });
        if (response.ok) await cache.put(url.href, response);
      } catch (error) {
        // offline: kept on a later visit
      }
    }),
  );
}

self.addEventListener("install", (event) => {
  event.waitUntil(cacheAssets(CONFIG.assets).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) =>
        Promise.all(
          keys
            .filter((key) => key.startsWith("linli-dk-assets-") && key !== ASSETS)
            .map((key) => caches.delete(key)),
        ),
      )
      .then(() => self.clients.claim()),
  );
});

function keepable(response) {
  return (
    response.ok &&
    !response.redirected &&
    response.type === "basic" &&
    (response.headers.get("Content-Type") || "").startsWith("text/html")
  );
}

async function storePage(href, response) {
  const cache = await caches.open(PAGES);
  await cache.put(pageKey(href), response);
  const keys = (await cache.keys()).filter((request) => !request.url.endsWith(OWNER_KEY));
  // Cache keys come back in insertion order: the oldest pages go first.
  for (const request of keys.slice(0, Math.max(0, keys.length - MAX_PAGES))) {
    await cache.delete(request);
  }
}

function offlinePage() {
  const html =
    `<!doctype html><html lang="${CONFIG.lang}"><head><meta charset="utf-8">` +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    `<title>${CONFIG.offlineTitle}</title></head><body style="font-family:sans-serif;padding:1rem">` +
    `<h1>${CONFIG.offlineTitle}</h1><p data-testid="offline-missing">${CONFIG.offlineText}</p></body></html>`;
  return new Response(html, {
    status: 503,
    headers: { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" },
  });
}

async function page(request) {
  try {
    const response = await fetch(request);
    if (keepable(response)) await storePage(request.url, response.clone());
    return response;
  } catch (error) {
    const cache = await caches.open(PAGES);
    return (await cache.match(pageKey(request.url), { ignoreVary: true })) || offlinePage();
  }
}

async function asset(request) {
  const cache = await caches.open(ASSETS);
  const cached = await cache.match(request.url);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok && response.type === "basic") await cache.put(request.url, response.clone());
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (request.mode === "navigate" && isPage(url)) {
    event.respondWith(page(request));
  } else if (isAsset(url)) {
    event.respondWith(asset(request));
  }
});

// The pages kept belong to one user: another user's page first forgets them.
async function claimPages(user) {
  const cache = await caches.open(PAGES);
  const owner = await cache.match(OWNER_KEY);
  const previous = owner ? await owner.text() : "";
  if (previous !== String(user)) {
    await caches.delete(PAGES);
    await (await caches.open(PAGES)).put(OWNER_KEY, new Response(String(user)));
  }
}

async function keep(data) {
  const href = pageKey(data.url);
  if (!isPage(new URL(href))) return false;
  await claimPages(data.user);
  await cacheAssets(Array.isArray(data.assets) ? data.assets : []);
  if (!data.refresh && (await (await caches.open(PAGES)).match(href, { ignoreVary: true }))) return true;
  try {
    const response = await fetch(href, { credentials: "same-origin", redirect: "follow" });
    if (!keepable(response)) return false;
    await storePage(href, response);
    return true;
  } catch (error) {
    // offline: the copy kept before (if any) stays
    return Boolean(await (await caches.open(PAGES)).match(href, { ignoreVary: true }));
  }
}

self.addEventListener("message", (event) => {
  const data = event.data || {};
  if (data.type !== "keep") return;
  event.waitUntil(
    keep(data)
      .catch(() => false)
      .then((ok) => {
        if (event.source) event.source.postMessage({ type: "kept", url: data.url, ok });
      }),
  );
});

// sessionbot web inbox: live refresh of the open page over Server-Sent Events.
// The pages work without this script; with it, a change made anywhere (chat, the API, another
// browser) refreshes the affected part of the page in place. An item being edited is kept as
// long as the item itself did not change.
"use strict";

(function () {
  const main = document.getElementById("main");
  const url = main && main.dataset.live;
  if (!url || !window.EventSource) return;
  const status = document.getElementById("live-status");
  let busy = false;
  let again = false;

  function merge(current, fresh) {
    const kept = new Map();
    current.querySelectorAll("[data-key]").forEach((el) => kept.set(el.dataset.key, el));
    fresh.querySelectorAll("[data-key]").forEach((el) => {
      const old = kept.get(el.dataset.key);
      if (old) el.replaceWith(old);
    });
    current.replaceChildren(...fresh.childNodes);
  }

  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const response = await fetch(window.location.href, { credentials: "same-origin" });
      if (!response.ok) return;
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      document.querySelectorAll("[data-region]").forEach((region) => {
        const fresh = page.querySelector(`[data-region="${region.dataset.region}"]`);
        if (fresh) merge(region, fresh);
      });
      if (status) status.textContent = "Updated " + new Date().toLocaleTimeString();
    } finally {
      busy = false;
      if (again) { again = false; refresh(); }
    }
  }

  const source = new EventSource(url, { withCredentials: true });
  source.addEventListener("refresh", refresh);
  source.addEventListener("open", () => { main.dataset.connected = "1"; });
})();

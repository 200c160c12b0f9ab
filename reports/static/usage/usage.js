// The usage card, live: polls today's usage and the assist status every few seconds with the
// session cookie, updates the figures, the budget bar and the availability, and pauses while
// the tab is hidden. Everything it needs is in the card's data attributes.
(function () {
  "use strict";

  const card = document.getElementById("usage-card");
  if (!card || !window.fetch) return;

  const lang = document.documentElement.lang || undefined;
  const formats = {
    count: new Intl.NumberFormat(lang),
    money: new Intl.NumberFormat(lang, { minimumFractionDigits: 2, maximumFractionDigits: 6 }),
    percent: new Intl.NumberFormat(lang, { maximumFractionDigits: 2 }),
  };
  const patterns = {
    count: "{n}",
    money: card.dataset.moneyPattern,
    percent: card.dataset.percentPattern,
  };
  const pollMs = Number(card.dataset.pollSeconds || 5) * 1000;
  const warningPercent = Number(card.dataset.warningPercent || 80);
  const baseBudget = Number(card.dataset.baseBudget);
  const query = "?tenantId=" + encodeURIComponent(card.dataset.tenantId);
  let timer = null;
  let inFlight = false;
  let stopped = false;

  function text(format, value) {
    return patterns[format].replace("{n}", formats[format].format(value));
  }

  function setField(name, value) {
    const element = card.querySelector('[data-field="' + name + '"]');
    if (!element) return;
    const shown = text(element.dataset.format, value);
    element.dataset.value = String(value);
    if (element.textContent !== shown) element.textContent = shown;
  }

  function showOnly(selector, attribute, wanted) {
    card.querySelectorAll(selector).forEach(function (element) {
      element.hidden = element.getAttribute(attribute) !== wanted;
    });
  }

  function countdown() {
    const element = card.querySelector('[data-field="reset-in"]');
    const minutes = Math.max(0, Math.floor((Date.parse(element.dataset.resetAt) - Date.now()) / 60000));
    const shown = card.dataset.countdownPattern
      .replace("{h}", formats.count.format(Math.floor(minutes / 60)))
      .replace("{m}", formats.count.format(minutes % 60));
    if (element.textContent !== shown) element.textContent = shown;
  }

  function render(today, status) {
    if (today.date !== card.dataset.date) {
      // A new local day: the history gains a bar and the reset moves; draw it all again.
      window.location.reload();
      return;
    }
    const budget = today.budget;
    setField("calls", today.calls);
    setField("tokens", today.tokens);
    setField("cost", today.costUsd);
    setField("used", budget.used);
    setField("daily", budget.daily);
    setField("remaining", budget.remaining);
    setField("percent", budget.percentUsed);
    const topUp = budget.daily - baseBudget;
    setField("top-up", topUp);
    card.querySelector("[data-top-up-note]").hidden = !(topUp > 0.0000005);

    const level = budget.percentUsed >= 100 || !status.budget.allowed
      ? "reached"
      : budget.percentUsed >= warningPercent ? "warning" : "ok";
    const meter = card.querySelector('[data-field="meter"]');
    const width = Math.min(100, budget.percentUsed);
    meter.dataset.level = level;
    meter.setAttribute("aria-valuenow", String(width));
    meter.setAttribute("aria-valuetext", text("percent", budget.percentUsed));
    meter.firstElementChild.style.width = width + "%";
    showOnly("[data-level-note]", "data-level-note", level);

    const availability = card.querySelector('[data-field="availability"]');
    availability.dataset.available = String(status.available);
    showOnly("[data-when]", "data-when", status.available ? "available" : "unavailable");
    showOnly("[data-reason]", "data-reason", status.available ? "" : status.reason || "");
    countdown();
  }

  function getJson(url) {
    return fetch(url + query, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    }).then(function (response) {
      if (response.status === 401 || response.status === 403) stopped = true; // signed out
      if (!response.ok) throw new Error(url + " answered " + response.status);
      return response.json();
    });
  }

  function schedule() {
    window.clearTimeout(timer);
    timer = null;
    if (!stopped && !document.hidden) timer = window.setTimeout(poll, pollMs);
  }

  function poll() {
    timer = null;
    inFlight = true;
    Promise.all([getJson(card.dataset.todayUrl), getJson(card.dataset.statusUrl)])
      .then(function (answers) { render(answers[0], answers[1]); })
      .catch(function () { countdown(); }) // a missed beat: the next one tries again
      .finally(function () {
        inFlight = false;
        schedule();
      });
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) {
      window.clearTimeout(timer); // paused; a poll in flight finishes and schedules nothing
      timer = null;
    } else if (!inFlight && !stopped) {
      window.clearTimeout(timer);
      poll(); // back on the tab: fresh numbers at once, then the usual rhythm
    }
  });

  schedule();
})();

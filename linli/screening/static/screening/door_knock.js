/*
 * Door-knock page (敲门行动): the grid worker's phone.
 *
 * The server renders a page that works without script: each member's "record visit" link opens
 * their form on its own page, posted as a plain form. This script makes the list work in a
 * stairwell without signal:
 *
 * - "record visit" opens the member's one-screen form in place (cloned from
 *   <template id="dk-form-template">); the questions show once "answered" is chosen, and the
 *   questions the branching skips are hidden (the same `route` as linli.screening.questionnaires;
 *   the server ignores skipped questions anyway).
 * - On submit the form is checked here (outcome chosen, required questions on the path, number
 *   ranges), then the record gets an idempotency key generated on the phone
 *   (crypto.randomUUID, else getRandomValues) and is put in the outbox in localStorage FIRST;
 *   only then is it sent as JSON. The member is marked visited, the household done, at once.
 * - Sending failed (offline, timeout, 5xx, logged out, stale CSRF token): the record stays in
 *   the outbox and is retried on the `online` event, on page load, when the page becomes
 *   visible and every 30 seconds. The server stores a key once, so a resend is harmless.
 * - Refused with reasons (a 4xx with JSON errors): the record stays in the outbox marked
 *   "needs fixing"; "Fix" reopens its form with the errors at the fields (same key: nothing was
 *   stored under it), "Discard" (tap twice) drops it.
 * - A banner counts the records on the phone: "Records waiting to be sent: N" / "All records
 *   sent".
 *
 * - Each member carries data-status (the server's status when the page was made) and
 *   data-state (where they stand now, moved by a visit recorded here as the server moves it:
 *   answered → reached, refused → refused, not at home → still needs a door knock); the badge's
 *   colour, the button's words and the household's "nobody left to visit" follow data-state,
 *   and so does the counter of households and people left (todo-summary).
 * - Offline: the page registers the service worker (config.offline.worker) and asks it to
 *   keep this page and the files it loaded; once kept, offline-ready says so. After visits are
 *   sent the kept copy is refreshed.
 *
 * Stable hooks for tests (data-testid):
 *   todo-summary         households and people left (data-households, data-people: the
 *                        server's figures, which the text moves from)
 *   offline-ready        shown once the page is kept for working without a network
 *   places, building-<id>, unit-<id>   the buildings page; filter, unit-select, floor-select,
 *                        pager, page-previous, page-next, page-of   a building's page
 *   outbox               the banner; data-state = "empty" | "pending" | "sending" | "error"
 *   outbox-count         number of records kept on this phone (waiting or refused); "0" = all sent
 *   outbox-text          the banner's sentence
 *   outbox-problem       why nothing is being sent now (no network, logged out, reload needed)
 *   outbox-send          "send now" button
 *   outbox-errors        the refused records; each is outbox-error-<target id>, with buttons
 *                        outbox-fix-<target id> and outbox-discard-<target id> (tap twice)
 *   household-<id>       a household (<id>: household id, or "p<target id>" for someone alone);
 *                        class "done" once nobody in it is left to visit (also set locally)
 *   household-done-<id>  its "done" mark, hidden until then
 *   member-<target id>   a member: data-status = status on the server; classes todo | done,
 *                        visited (recorded in this page), queued (on the phone, not sent yet),
 *                        failed (refused by the server, needs fixing)
 *   state-<target id>    the member's status badge
 *   record-<target id>   opens the member's form (a link to ?target=<id> without script)
 *   form                 the open form (one at a time); inside it:
 *     outcome-answered, outcome-not_at_home, outcome-refused     the outcome radios
 *     question-<key>     a question's block (hidden when the branching skips it)
 *     answer-<key>       a number / date / text input
 *     answer-<key>-<code>  a choice (yes_no: answer-<key>-yes / answer-<key>-no)
 *     error-<key>, error-outcome, error-general                  field and form errors
 *     by-proxy           "answered by a family member"
 *     submit, cancel, discard (discard: a refused record being fixed; tap twice)
 *   saved                (a member's own page) shown once the record is kept on the phone
 *
 * Storage: localStorage "linli.doorKnock.outbox.<user id>" (a JSON list of records) and
 * "linli.doorKnock.device" (a random id of this phone, sent as detail.device).
 * window.linliDoorKnock = {flush, outbox, route} for tests.
 */
(() => {
  "use strict";

  const configNode = document.getElementById("dk-config");
  if (!configNode) return;
  const config = JSON.parse(configNode.textContent);
  const text = config.text;
  const definition = config.definition;
  const STORE_KEY = `linli.doorKnock.outbox.${config.user}`;
  const DEVICE_KEY = "linli.doorKnock.device";
  const TIMEOUT_MS = 15000;
  const RETRY_MS = 30000;

  // ---------------------------------------------------------------------------------------
  // Keys and the outbox

  function uuid() {
    const cryptoApi = window.crypto;
    if (cryptoApi && typeof cryptoApi.randomUUID === "function") {
      return cryptoApi.randomUUID(); // only in secure contexts (https, localhost)
    }
    const bytes = new Uint8Array(16);
    if (cryptoApi && typeof cryptoApi.getRandomValues === "function") {
      cryptoApi.getRandomValues(bytes);
    } else {
      for (let i = 0; i < bytes.length; i += 1) bytes[i] = Math.floor(Math.random() * 256);
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
  }

  // Without localStorage (some private modes) records live in memory: still sent, but lost if
  // the page closes, which the banner says.
  let memoryOnly = false;
  let memory = [];
  try {
    localStorage.setItem("linli.doorKnock.probe", "1");
    localStorage.removeItem("linli.doorKnock.probe");
  } catch (error) {
    memoryOnly = true;
  }

  function outbox() {
    if (memoryOnly) return memory.slice();
    try {
      const items = JSON.parse(localStorage.getItem(STORE_KEY) || "[]");
      return Array.isArray(items) ? items : [];
    } catch (error) {
      return [];
    }
  }

  function saveOutbox(items) {
    if (!memoryOnly) {
      try {
        localStorage.setItem(STORE_KEY, JSON.stringify(items));
        return;
      } catch (error) {
        memoryOnly = true; // quota or storage gone: keep what we have in memory
      }
    }
    memory = items.slice();
  }

  function putItem(item) {
    saveOutbox(outbox().filter((i) => i.key !== item.key).concat([item]));
  }

  function patchItem(key, patch) {
    const items = outbox();
    const item = items.find((i) => i.key === key);
    if (item) {
      Object.assign(item, patch);
      saveOutbox(items);
    }
    return item;
  }

  function dropItem(key) {
    saveOutbox(outbox().filter((i) => i.key !== key));
  }

  function deviceId() {
    try {
      let id = localStorage.getItem(DEVICE_KEY);
      if (!id) {
        id = uuid();
        localStorage.setItem(DEVICE_KEY, id);
      }
      return id;
    } catch (error) {
      return "";
    }
  }

  function itemFor(target) {
    return outbox().find((i) => i.campaign === config.campaign && String(i.target) === String(target));
  }

  // ---------------------------------------------------------------------------------------
  // Branching: a port of questionnaires.route / _holds (keep the two in step)

  const DAY_MS = 86400000;

  function dayNumber(value) {
    const match = typeof value === "string" && /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
    if (!match) return null;
    const time = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
    return Number.isNaN(time) ? null : time / DAY_MS;
  }

  function todayNumber() {
    const now = new Date();
    return Date.UTC(now.getFullYear(), now.getMonth(), now.getDate()) / DAY_MS;
  }

  function isNumber(value) {
    return typeof value === "number" && Number.isFinite(value);
  }

  function holds(condition, answers, kinds) {
    if (!condition || typeof condition !== "object") return false;
    if (Array.isArray(condition.all)) return condition.all.every((c) => holds(c, answers, kinds));
    if (Array.isArray(condition.any)) return condition.any.some((c) => holds(c, answers, kinds));
    if ("not" in condition) return !holds(condition.not, answers, kinds);
    const { q: key, op, value } = condition;
    const answer = answers[key];
    const has = answer !== undefined && answer !== null;
    if (op === "answered") return has === Boolean(value);
    if (!has) return false;
    const kind = kinds[key];
    if (op === "eq") return answer === value;
    if (op === "ne") return answer !== value;
    if (["gt", "gte", "lt", "lte"].includes(op)) {
      const left = kind === "date" ? dayNumber(answer) : answer;
      const right = kind === "date" ? dayNumber(value) : value;
      if (!isNumber(left) || !isNumber(right)) return false;
      return { gt: left > right, gte: left >= right, lt: left < right, lte: left <= right }[op];
    }
    if (op === "within_days") {
      const day = dayNumber(answer);
      return day !== null && todayNumber() - day >= 0 && todayNumber() - day <= value;
    }
    if (op === "in") {
      const items = value && !Array.isArray(value) && typeof value === "object"
        ? (definition.lists || {})[value.list] || []
        : value || [];
      if (kind === "short_text" && typeof answer === "string") {
        return items.some((item) => typeof item === "string" && item && answer.includes(item));
      }
      return items.includes(answer);
    }
    if (op === "contains") {
      if (Array.isArray(answer)) {
        const wanted = Array.isArray(value) ? value : [value];
        return wanted.some((item) => answer.includes(item));
      }
      return typeof answer === "string" && typeof value === "string" && answer.includes(value);
    }
    return false;
  }

  function route(answers) {
    const questions = definition.questions;
    const index = {};
    const kinds = {};
    questions.forEach((q, i) => {
      index[q.key] = i;
      kinds[q.key] = q.kind;
    });
    const path = [];
    let i = 0;
    while (i >= 0 && i < questions.length && path.length <= questions.length) {
      const question = questions[i];
      path.push(question.key);
      const answered = Object.prototype.hasOwnProperty.call(answers, question.key);
      let goto = null;
      for (const branch of question.next || []) {
        if (!("when" in branch)) {
          goto = branch.goto;
          break;
        }
        if (answered && holds(branch.when, answers, kinds)) {
          goto = branch.goto;
          break;
        }
      }
      if (goto === "end") break;
      i = goto in index && index[goto] > i ? index[goto] : i + 1;
    }
    return path;
  }

  // ---------------------------------------------------------------------------------------
  // Reading a form

  function parseNumber(raw) {
    const normal = String(raw)
      .replace(/[\uFF10-\uFF19\uFF0E\uFF0B\uFF0D]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0))
      .replace(/\s+/g, "")
      .replace(/(℃|°C|°|度)$/, "");
    return /^[+-]?\d+(\.\d+)?$/.test(normal) ? Number(normal) : null;
  }

  function fieldsOf(form, key) {
    return Array.from(form.querySelectorAll(`[name="q_${key}"]`));
  }

  // Returns {typed, raw}: typed values drive the branching and checks; raw ones are sent (the
  // server reads the usual spellings: "37.5度", full-width digits).
  function readAnswers(form) {
    const typed = {};
    const raw = {};
    for (const q of definition.questions) {
      const fields = fieldsOf(form, q.key);
      if (!fields.length) continue;
      if (q.kind === "yes_no") {
        const picked = fields.find((f) => f.checked);
        if (picked) typed[q.key] = raw[q.key] = picked.value === "yes";
      } else if (q.kind === "single_choice") {
        const picked = fields.find((f) => f.checked);
        if (picked) typed[q.key] = raw[q.key] = picked.value;
      } else if (q.kind === "multiple_choice") {
        const picked = fields.filter((f) => f.checked).map((f) => f.value);
        if (picked.length) typed[q.key] = raw[q.key] = picked;
      } else {
        const value = fields[0].value.trim();
        if (!value) continue;
        raw[q.key] = value;
        if (q.kind === "number") {
          const number = parseNumber(value);
          if (number !== null) typed[q.key] = number;
        } else if (q.kind === "date") {
          if (dayNumber(value) !== null) typed[q.key] = value;
        } else {
          typed[q.key] = value;
        }
      }
    }
    return { typed, raw };
  }

  function outcomeOf(form) {
    const picked = form.querySelector('input[name="outcome"]:checked');
    return picked ? picked.value : "";
  }

  function check(form) {
    const errors = {};
    const outcome = outcomeOf(form);
    if (!outcome) errors.outcome = text.outcome;
    if (outcome !== "answered") return errors;
    const { typed, raw } = readAnswers(form);
    const path = route(typed);
    for (const q of definition.questions) {
      if (!path.includes(q.key)) continue;
      if (q.kind === "number" && q.key in raw) {
        const number = typed[q.key];
        if (number === undefined) {
          errors[q.key] = text.number;
        } else if ((isNumber(q.min) && number < q.min) || (isNumber(q.max) && number > q.max)) {
          errors[q.key] = text.range
            .split("{min}").join(isNumber(q.min) ? String(q.min) : "…")
            .split("{max}").join(isNumber(q.max) ? String(q.max) : "…");
        }
      } else if (q.required && !(q.key in typed)) {
        errors[q.key] = text.required;
      }
    }
    return errors;
  }

  // ---------------------------------------------------------------------------------------
  // Showing a form's state

  function update(form) {
    const outcome = outcomeOf(form);
    form.classList.toggle("answered", outcome === "answered");
    const path = route(readAnswers(form).typed);
    form.querySelectorAll(".dk-q").forEach((block) => {
      const onPath = path.includes(block.dataset.key);
      block.hidden = !onPath;
      block.disabled = !onPath;
    });
  }

  function showErrors(form, errors) {
    form.querySelectorAll("[data-error-for]").forEach((node) => {
      node.hidden = true;
      node.textContent = "";
    });
    const general = form.querySelector('[data-error-for="__all__"]');
    let first = null;
    for (const [key, message] of Object.entries(errors || {})) {
      const node = key === "__all__" ? null : form.querySelector(`[data-error-for="${CSS.escape(key)}"]`);
      if (node) {
        node.textContent = message;
        node.hidden = false;
        first = first || node;
      } else if (general) {
        const line = document.createElement("li");
        line.textContent = message;
        general.appendChild(line);
        general.hidden = false;
        first = first || general;
      }
    }
    if (first) first.scrollIntoView({ block: "center", behavior: "smooth" });
  }

  function fill(form, item) {
    form.querySelectorAll('input[name="outcome"]').forEach((input) => {
      input.checked = input.value === item.outcome;
    });
    for (const q of definition.questions) {
      const value = (item.answers || {})[q.key];
      const fields = fieldsOf(form, q.key);
      if (q.kind === "yes_no") {
        fields.forEach((f) => { f.checked = value !== undefined && f.value === (value ? "yes" : "no"); });
      } else if (q.kind === "single_choice" || q.kind === "multiple_choice") {
        const picked = Array.isArray(value) ? value : [value];
        fields.forEach((f) => { f.checked = picked.includes(f.value); });
      } else if (fields[0]) {
        fields[0].value = value === undefined || value === null ? "" : String(value);
      }
    }
    const proxy = form.querySelector('[name="by_proxy"]');
    if (proxy) proxy.checked = Boolean(item.by_proxy);
    form.dataset.key = item.key;
    form.dataset.recordedAt = item.recorded_at;
    form.querySelector('[name="started_at"]').value = item.started_at || "";
    const discard = form.querySelector("[data-dk-discard]");
    if (discard) discard.hidden = false;
    update(form);
    showErrors(form, item.errors);
  }

  // ---------------------------------------------------------------------------------------
  // The list

  function memberNode(target) {
    return document.querySelector(`.dk-member[data-target="${CSS.escape(String(target))}"]`);
  }

  function memberName(target) {
    const node = memberNode(target);
    const name = node && node.querySelector(".dk-name");
    return name ? name.textContent.trim() : "";
  }

  function setBadge(member, label) {
    const badge = member.querySelector(".dk-badge");
    if (badge) badge.textContent = label;
  }

  // A visit moves a member as the server does (services.attempts._apply_outcome at the door):
  // answered → reached, refused → refused, anything else (not at home) → still on the list.
  const STATE_AFTER = { answered: "reached", refused: "refused" };

  function stateAfter(outcome) {
    return STATE_AFTER[outcome] || "needs_door_knock";
  }

  // The member's button says what the next tap does: nobody visited yet is recorded, somebody
  // not at home is visited again, a visit that reached them can be recorded again
  // (views.door_knock._action).
  function setAction(member, lastOutcome) {
    const button = member.querySelector(".dk-open");
    if (!button) return;
    if (!lastOutcome) button.textContent = text.recordVisit;
    else if (lastOutcome === "not_at_home") button.textContent = text.visitAgain;
    else button.textContent = text.recordAgain;
    button.classList.toggle("secondary", member.dataset.state !== "needs_door_knock");
  }

  function setState(member, state) {
    member.dataset.state = state;
    member.classList.toggle("todo", state === "needs_door_knock");
    member.classList.toggle("done", state !== "needs_door_knock");
  }

  function refreshHousehold(member) {
    const household = member.closest(".dk-household");
    if (!household) return;
    const members = Array.from(household.querySelectorAll(".dk-member"));
    // Done once nobody in it needs a door knock: a refused record being fixed, or somebody
    // not at home, keeps it open.
    const done = members.every(
      (m) => !m.classList.contains("failed") && m.dataset.state !== "needs_door_knock",
    );
    household.classList.toggle("done", done);
    const mark = household.querySelector(".dk-done-mark");
    if (mark) mark.hidden = !done;
  }

  // The counter of what is left moves with each visit recorded on this page: the server's
  // figures, less the households and people this page has seen leave the list since (and
  // plus those who joined it, somebody not contacted yet found not at home).
  function refreshCounter() {
    const counter = document.querySelector('[data-testid="todo-summary"]');
    if (!counter || !text.left) return;
    let households = Number(counter.dataset.households) || 0;
    let people = Number(counter.dataset.people) || 0;
    document.querySelectorAll(".dk-household").forEach((household) => {
      const wasLeft = household.dataset.left === "1";
      const members = Array.from(household.querySelectorAll(".dk-member"));
      const isLeft = members.some((m) => m.dataset.state === "needs_door_knock");
      households += (isLeft ? 1 : 0) - (wasLeft ? 1 : 0);
      members.forEach((m) => {
        const was = m.dataset.status === "needs_door_knock";
        const now = m.dataset.state === "needs_door_knock";
        people += (now ? 1 : 0) - (was ? 1 : 0);
      });
    });
    counter.textContent = text.left
      .split("{households}").join(String(Math.max(0, households)))
      .split("{people}").join(String(Math.max(0, people)));
  }

  // Marks the members whose records are on the phone (after a reload too).
  function markMembers(items) {
    document.querySelectorAll(".dk-member[data-target]").forEach((member) => {
      const item = items.find(
        (i) => i.campaign === config.campaign && String(i.target) === member.dataset.target,
      );
      const wasLocal = member.classList.contains("queued") || member.classList.contains("failed");
      member.classList.toggle("queued", Boolean(item) && item.state !== "error");
      member.classList.toggle("failed", Boolean(item) && item.state === "error");
      if (item) {
        member.classList.add("visited");
        const outcome = config.outcomes[item.outcome] || "";
        if (item.state === "error") {
          setState(member, member.dataset.status);
          setBadge(member, text.needsFixing);
        } else {
          setState(member, stateAfter(item.outcome));
          setBadge(member, `${outcome} · ${text.queued}`);
          setAction(member, item.outcome);
        }
      } else if (wasLocal && !member.dataset.sent) {
        member.classList.remove("visited"); // discarded
        setState(member, member.dataset.status);
        setBadge(member, config.statuses[member.dataset.status] || "");
        setAction(member, member.dataset.last || "");
      }
      refreshHousehold(member);
    });
    refreshCounter();
  }

  function markSent(target, data) {
    const member = memberNode(target);
    if (!member) return;
    member.dataset.sent = "1";
    member.dataset.last = data.outcome;
    setState(member, data.status);
    member.classList.add("visited");
    member.classList.remove("queued", "failed");
    setBadge(member, `${config.outcomes[data.outcome] || ""} · ${text.sent}`);
    setAction(member, data.outcome);
    refreshHousehold(member);
    refreshCounter();
  }

  // ---------------------------------------------------------------------------------------
  // Sending

  let sending = false;
  let problem = "";

  function csrfToken() {
    const pattern = new RegExp(`(?:^|;\\s*)${config.csrfCookie}=([^;]*)`);
    const cookie = pattern.exec(document.cookie);
    if (cookie) return decodeURIComponent(cookie[1]); // fresh after logging in again
    const field = document.querySelector('input[name="csrfmiddlewaretoken"]');
    if (field) return field.value;
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (error) {
      return "";
    }
  }

  function body(item) {
    return JSON.stringify({
      target: item.target,
      outcome: item.outcome,
      answers: item.answers,
      by_proxy: item.by_proxy,
      idempotency_key: item.key,
      recorded_at: item.recorded_at,
      started_at: item.started_at,
      device: item.device,
      offline: Boolean(item.offline),
    });
  }

  // Returns "sent", "refused" (4xx with reasons: the user decides) or "later" (try again).
  async function send(item) {
    const controller = typeof AbortController === "function" ? new AbortController() : null;
    const timer = controller ? setTimeout(() => controller.abort(), TIMEOUT_MS) : null;
    let response;
    try {
      response = await fetch(item.url, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRFToken": csrfToken(),
        },
        body: body(item),
        signal: controller ? controller.signal : undefined,
      });
    } catch (error) {
      // No network, or no answer within the timeout: it was sent offline, whatever comes.
      patchItem(item.key, { tries: (item.tries || 0) + 1, offline: true });
      problem = "offline";
      return "later";
    } finally {
      if (timer) clearTimeout(timer);
    }
    const isJson = (response.headers.get("Content-Type") || "").includes("application/json");
    let data = null;
    if (isJson) {
      try {
        data = await response.json();
      } catch (error) {
        data = null;
      }
    }
    if (response.ok && data && data.saved) {
      dropItem(item.key);
      markSent(item.target, data);
      return "sent";
    }
    if (response.status === 401 || (response.ok && !isJson)) {
      problem = "login"; // a log-in page instead of an answer
      return "later";
    }
    if (response.status === 403 && !(data && data.errors)) {
      problem = "reload"; // the CSRF check refused a stale token (the API's error, no fields)
      return "later";
    }
    if (!isJson || response.status >= 500 || response.status === 408 || response.status === 429) {
      patchItem(item.key, { tries: (item.tries || 0) + 1, offline: true });
      problem = "offline";
      return "later";
    }
    patchItem(item.key, {
      state: "error",
      errors: (data && data.errors) || { __all__: text.error },
    });
    return "refused";
  }

  async function flush() {
    if (sending) return;
    sending = true;
    problem = "";
    render();
    let sent = 0;
    try {
      for (const item of outbox().filter((i) => i.state !== "error")) {
        // One at a time, in the order recorded; the first that cannot go stops the round.
        const result = await send(item);
        if (result === "later") break;
        if (result === "sent") sent += 1;
      }
    } finally {
      sending = false;
      render();
    }
    if (sent) keepPage(true);
  }

  // ---------------------------------------------------------------------------------------
  // The banner

  function render() {
    const items = outbox();
    markMembers(items);
    const box = document.querySelector('[data-testid="outbox"]');
    if (!box) return;
    box.hidden = false;
    const refused = items.filter((i) => i.state === "error");
    const waiting = items.length - refused.length;
    let state = "empty";
    if (refused.length) state = "error";
    else if (waiting && sending) state = "sending";
    else if (waiting) state = "pending";
    box.dataset.state = state;
    box.querySelector('[data-testid="outbox-count"]').textContent = String(items.length);
    const sentence = box.querySelector('[data-testid="outbox-text"]');
    if (!items.length) sentence.textContent = text.allSent;
    else if (state === "sending") sentence.textContent = text.sending;
    else sentence.textContent = text.waiting;
    box.querySelector('[data-testid="outbox-send"]').hidden = !waiting || sending;

    const notes = [];
    if (waiting && problem) notes.push(text[problem]);
    if (refused.length) notes.push(text.fix);
    if (memoryOnly && items.length) notes.push(text.noStorage);
    const note = box.querySelector('[data-testid="outbox-problem"]');
    note.textContent = notes.join(" ");
    note.hidden = !notes.length;
    if (problem === "login" && waiting) {
      const link = document.createElement("a");
      link.href = `${config.loginUrl}?next=${encodeURIComponent(location.pathname + location.search)}`;
      link.textContent = " ›";
      note.appendChild(link);
    }

    const list = box.querySelector('[data-testid="outbox-errors"]');
    list.replaceChildren();
    for (const item of refused) {
      const line = document.createElement("li");
      line.dataset.testid = `outbox-error-${item.target}`;
      const label = document.createElement("span");
      const first = Object.values(item.errors || {})[0] || text.error;
      label.textContent = `${memberName(item.target) || item.label || `#${item.target}`}: ${first}`;
      const fixButton = document.createElement("button");
      fixButton.type = "button";
      fixButton.className = "btn small";
      fixButton.dataset.testid = `outbox-fix-${item.target}`;
      fixButton.textContent = text.fixOne;
      fixButton.addEventListener("click", () => fixItem(item.key));
      const discardButton = document.createElement("button");
      discardButton.type = "button";
      discardButton.className = "btn small secondary";
      discardButton.dataset.testid = `outbox-discard-${item.target}`;
      discardButton.textContent = text.discard;
      discardButton.addEventListener("click", () => armThenDiscard(discardButton, item.key));
      line.append(label, fixButton, discardButton);
      list.appendChild(line);
    }
    list.hidden = !refused.length;
  }

  // Discarding loses what was entered: the first tap asks, the second discards.
  function armThenDiscard(button, key) {
    if (button.dataset.armed !== "1") {
      button.dataset.armed = "1";
      button.textContent = text.confirmDiscard;
      return;
    }
    dropItem(key);
    if (openForm && openForm.dataset.key === key) closeForm();
    const standalone = document.querySelector("[data-dk-standalone]");
    if (standalone && standalone.querySelector("form").dataset.key === key) location.reload();
    render();
  }

  function fixItem(key) {
    const item = outbox().find((i) => i.key === key);
    if (!item) return;
    const standalone = document.querySelector("[data-dk-standalone]");
    if (standalone && String(standalone.dataset.target) === String(item.target)) {
      fill(standalone.querySelector("form"), item);
      return;
    }
    const member = item.campaign === config.campaign ? memberNode(item.target) : null;
    if (member && document.getElementById("dk-form-template")) openFor(member, item);
    else if (item.formUrl) location.href = item.formUrl;
  }

  // ---------------------------------------------------------------------------------------
  // Forms

  let openForm = null;

  function closeForm() {
    if (!openForm) return;
    const member = openForm.closest(".dk-member");
    openForm.remove();
    openForm = null;
    if (member) member.classList.remove("open");
  }

  function openFor(member, item) {
    const template = document.getElementById("dk-form-template");
    if (!template) return;
    closeForm();
    const form = template.content.querySelector("form").cloneNode(true);
    form.querySelector('[name="target"]').value = member.dataset.target;
    form.querySelector('[name="started_at"]').value = new Date().toISOString();
    member.querySelector(".dk-slot").appendChild(form);
    member.classList.add("open");
    openForm = form;
    enhance(form, true);
    if (item) fill(form, item);
    form.scrollIntoView({ block: "start", behavior: "smooth" });
  }

  function enhance(form, cloned) {
    form.classList.add("scripted");
    const cancel = form.querySelector("[data-dk-cancel]");
    if (cancel && cloned) {
      cancel.hidden = false;
      cancel.addEventListener("click", closeForm);
    }
    const discard = form.querySelector("[data-dk-discard]");
    if (discard) discard.addEventListener("click", () => armThenDiscard(discard, form.dataset.key));
    form.addEventListener("change", (event) => {
      const input = event.target;
      // "None of these" and the symptoms exclude each other.
      if (input.type === "checkbox" && input.checked && input.name.startsWith("q_")) {
        fieldsOf(form, input.name.slice(2)).forEach((other) => {
          if (other !== input && (input.hasAttribute("data-exclusive") || other.hasAttribute("data-exclusive"))) {
            other.checked = false;
          }
        });
      }
      update(form);
    });
    form.addEventListener("input", () => update(form));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      submit(form, cloned);
    });
    update(form);
  }

  function submit(form, cloned) {
    update(form);
    const errors = check(form);
    if (Object.keys(errors).length) {
      showErrors(form, errors);
      return;
    }
    const outcome = outcomeOf(form);
    const target = form.querySelector('[name="target"]').value;
    let answers = {};
    if (outcome === "answered") {
      const { typed, raw } = readAnswers(form);
      const path = route(typed);
      answers = Object.fromEntries(Object.entries(raw).filter(([key]) => path.includes(key)));
    }
    const member = cloned ? form.closest(".dk-member") : null;
    const opener = member && member.querySelector(".dk-open");
    const item = {
      // A refused record being fixed keeps its key: nothing was stored under it.
      key: form.dataset.key || uuid(),
      url: config.submitUrl, // the JSON API; form.action is the page without script
      campaign: config.campaign,
      target: Number(target),
      outcome,
      answers,
      by_proxy: outcome === "answered" && Boolean(form.querySelector('[name="by_proxy"]:checked')),
      // The visit's own time, kept when a refused record is fixed later.
      recorded_at: form.dataset.recordedAt || new Date().toISOString(),
      started_at: form.querySelector('[name="started_at"]').value,
      device: deviceId(),
      offline: !navigator.onLine,
      state: "pending",
      errors: null,
      tries: 0,
      label: memberName(target),
      formUrl: opener ? opener.href : location.href,
    };
    putItem(item); // on the phone before anything goes on the network
    if (cloned) {
      closeForm();
    } else {
      const standalone = form.closest("[data-dk-standalone]");
      const saved = document.querySelector("[data-dk-saved]");
      if (standalone && saved) {
        standalone.hidden = true;
        saved.hidden = false;
      }
    }
    render();
    flush();
  }

  // ---------------------------------------------------------------------------------------
  // Working without a network: the service worker (/screening/door-knock-worker.js) keeps
  // this page and the files it loaded, so a reload in the stairwell still opens it.

  let worker = null;

  // `refresh`: fetch the page again for the kept copy (after visits were sent, so a reload
  // offline shows them); otherwise a page the worker already kept on its way is only checked.
  function keepPage(refresh) {
    if (!worker) return;
    const assets = Array.from(document.querySelectorAll("link[href], script[src]"))
      .map((node) => node.href || node.src)
      .filter(Boolean);
    worker.postMessage({
      type: "keep",
      url: location.href.split("#")[0],
      user: config.user,
      assets,
      refresh: Boolean(refresh),
    });
  }

  function keepOffline() {
    const offline = config.offline;
    if (!offline || !("serviceWorker" in navigator)) return;
    navigator.serviceWorker.addEventListener("message", (event) => {
      const data = event.data || {};
      if (data.type !== "kept" || !data.ok) return;
      document.documentElement.dataset.offlineReady = "1";
      const note = document.querySelector('[data-testid="offline-ready"]');
      if (note) {
        note.textContent = text.offlineReady;
        note.hidden = false;
      }
    });
    navigator.serviceWorker
      .register(offline.worker, { scope: offline.scope })
      .then(() => navigator.serviceWorker.ready)
      .then((registration) => {
        worker = registration.active;
        keepPage(false);
      })
      .catch(() => {
        // No service worker (an old browser, a private window): the page works online only.
      });
  }

  // ---------------------------------------------------------------------------------------
  // Start

  document.addEventListener("click", (event) => {
    const link = event.target.closest(".dk-open");
    if (!link || !document.getElementById("dk-form-template")) return;
    const member = link.closest(".dk-member");
    if (!member) return;
    event.preventDefault();
    // A refused record reopens to be fixed; otherwise a new visit gets a blank form.
    const item = itemFor(member.dataset.target);
    openFor(member, item && item.state === "error" ? item : null);
  });

  const areaForm = document.querySelector("[data-dk-area]");
  if (areaForm) {
    areaForm.querySelector("select").addEventListener("change", () => areaForm.submit());
  }
  const filterForm = document.querySelector("[data-dk-filter]");
  if (filterForm) {
    filterForm.querySelectorAll("select").forEach((select) => {
      select.addEventListener("change", () => {
        // A new unit has floors of its own.
        if (select.name === "unit") {
          const floor = filterForm.querySelector('select[name="floor"]');
          if (floor) floor.value = "";
        }
        filterForm.submit();
      });
    });
  }

  const standalone = document.querySelector("[data-dk-standalone]");
  if (standalone) {
    const form = standalone.querySelector("form[data-dk-form]");
    enhance(form, false);
    const item = itemFor(standalone.dataset.target);
    if (item && item.state === "error") fill(form, item);
  }

  const sendNow = document.querySelector("[data-dk-send-now]");
  if (sendNow) sendNow.addEventListener("click", flush);
  window.addEventListener("online", flush);
  window.addEventListener("offline", () => {
    problem = "offline";
    render();
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") flush();
  });
  window.addEventListener("storage", (event) => {
    if (event.key === STORE_KEY) render();
  });
  setInterval(() => {
    if (outbox().some((i) => i.state !== "error")) flush();
  }, RETRY_MS);

  window.linliDoorKnock = { flush, outbox, route };
  render();
  flush();
  keepOffline();
})();

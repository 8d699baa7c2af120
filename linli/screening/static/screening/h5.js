/* The resident's page: saves each answer as JSON, retries with the same key when the
   connection drops, and keeps an unsent answer on the phone until it is sent.

   Plain ES5 and XMLHttpRequest so that WeChat's built-in browser and old Android WebViews run
   it; without JavaScript the forms post as they are and the server redirects. The JSON
   contract is the one of screening:h5_answer (views/h5.py). */
(function () {
  "use strict";

  var PENDING_PREFIX = "linli-h5-pending:";
  var RETRY_DELAYS = [1000, 2000, 4000, 8000, 15000];

  function storage() {
    try {
      var probe = "linli-h5-probe";
      window.localStorage.setItem(probe, probe);
      window.localStorage.removeItem(probe);
      return window.localStorage;
    } catch (e) {
      return null; // private mode, or storage disabled: the answer is only kept in memory
    }
  }

  function readPending(url) {
    var store = storage();
    if (!store) { return null; }
    try { return JSON.parse(store.getItem(PENDING_PREFIX + url) || "null"); } catch (e) { return null; }
  }

  function writePending(url, pending) {
    var store = storage();
    if (!store) { return; }
    try {
      if (pending) { store.setItem(PENDING_PREFIX + url, JSON.stringify(pending)); }
      else { store.removeItem(PENDING_PREFIX + url); }
    } catch (e) { /* storage full: the in-memory retry still runs */ }
  }

  function newKey() {
    var bytes = "";
    var cryptoObj = window.crypto || window.msCrypto;
    if (cryptoObj && cryptoObj.getRandomValues) {
      var values = new Uint32Array(4);
      cryptoObj.getRandomValues(values);
      for (var i = 0; i < values.length; i++) { bytes += values[i].toString(36); }
    } else {
      for (var j = 0; j < 4; j++) { bytes += Math.floor(Math.random() * 4294967296).toString(36); }
    }
    return "h5-" + new Date().getTime().toString(36) + "-" + bytes;
  }

  function Status(element) {
    this.element = element;
  }
  Status.prototype.hide = function () {
    if (this.element) { this.element.className = "h5-status is-hidden"; }
  };
  Status.prototype.show = function (state) {
    if (!this.element) { return; }
    this.element.className = "h5-status is-" + state;
    this.element.textContent = this.element.getAttribute("data-" + state) || "";
  };

  function showError(form, message) {
    var element = document.getElementById("h5-error");
    if (!element) { if (message) { window.alert(message); } return; }
    element.textContent = message;
    element.className = "h5-error";
    if (element.scrollIntoView) { element.scrollIntoView(); }
  }

  function valueOf(form) {
    var kind = form.getAttribute("data-kind");
    var inputs = form.querySelectorAll("[name=answer]");
    var i;
    if (kind === "multiple_choice") {
      var picked = [];
      for (i = 0; i < inputs.length; i++) { if (inputs[i].checked) { picked.push(inputs[i].value); } }
      return picked;
    }
    if (kind === "yes_no" || kind === "single_choice") {
      for (i = 0; i < inputs.length; i++) {
        if (inputs[i].checked) {
          if (kind === "yes_no") { return inputs[i].value === "yes"; }
          return inputs[i].value;
        }
      }
      return null;
    }
    return inputs.length ? inputs[0].value : "";
  }

  function submissionOf(form, action) {
    var answers = {};
    var outcome = "answered";
    var question = form.getAttribute("data-question");
    if (form.getAttribute("data-outcome") === "refused" || action === "refuse") {
      outcome = "refused";
    } else if (action === "skip") {
      answers[question] = null;
    } else {
      answers[question] = valueOf(form);
    }
    return {
      answers: answers,
      by_proxy: form.getAttribute("data-by-proxy") === "true",
      outcome: outcome
    };
  }

  function Sender(url, status, buttons) {
    this.url = url;
    this.status = status;
    this.buttons = buttons;
    this.busy = false;
    this.attempt = 0;
    this.timer = null;
    this.pending = null;
  }

  Sender.prototype.lock = function (locked) {
    this.busy = locked;
    for (var i = 0; i < this.buttons.length; i++) { this.buttons[i].disabled = locked; }
  };

  Sender.prototype.send = function (submission, nextUrl, form) {
    var body = JSON.stringify(submission);
    var known = readPending(this.url);
    // The same answer again keeps its key (a retry the server may already have); a changed
    // answer is a new submission.
    var key = known && known.body === body ? known.key : newKey();
    this.pending = { body: body, key: key, next: nextUrl };
    writePending(this.url, this.pending);
    this.form = form;
    this.attempt = 0;
    this.lock(true);
    this.post();
  };

  Sender.prototype.post = function () {
    var self = this;
    var pending = this.pending;
    if (!pending) { return; }
    if (this.timer) { window.clearTimeout(this.timer); this.timer = null; }
    var payload = JSON.parse(pending.body);
    payload.idempotency_key = pending.key;
    var xhr = new XMLHttpRequest();
    xhr.open("POST", this.url, true);
    xhr.setRequestHeader("Content-Type", "application/json");
    xhr.setRequestHeader("Accept", "application/json");
    xhr.timeout = 20000;
    this.status.show(this.attempt ? "retrying" : "saving");
    xhr.onreadystatechange = function () {
      if (xhr.readyState !== 4) { return; }
      self.handle(xhr.status, xhr.responseText);
    };
    xhr.ontimeout = function () { /* readyState 4 with status 0 follows */ };
    try {
      xhr.send(JSON.stringify(payload));
    } catch (e) {
      this.retry();
    }
  };

  Sender.prototype.handle = function (status, text) {
    var data = null;
    try { data = JSON.parse(text); } catch (e) { data = null; }
    if (status === 200 && data && data.saved) {
      var next = this.pending.next;
      this.pending = null;
      writePending(this.url, null);
      this.status.show("saved");
      window.location.replace(next);
      return;
    }
    if (status === 400 && data && data.errors) {
      // The server stored nothing: there is nothing to retry; show why at the question.
      this.pending = null;
      writePending(this.url, null);
      this.lock(false);
      var question = this.form ? this.form.getAttribute("data-question") : "";
      var message = data.errors[question];
      if (!message) { for (var field in data.errors) { if (data.errors.hasOwnProperty(field)) { message = data.errors[field]; break; } } }
      this.status.hide();
      showError(this.form, message || this.status.element.getAttribute("data-failed"));
      return;
    }
    if (status === 409 && data && data.error) {
      // This key was already saved with another answer (a second phone or tab): nothing new
      // was stored, and retrying would not change that. Say so; the answer stays on screen.
      this.pending = null;
      writePending(this.url, null);
      this.lock(false);
      this.status.hide();
      showError(this.form, data.error);
      return;
    }
    if (status === 404 || status === 410) {
      // A bad, expired or ended link: the page itself says so.
      this.pending = null;
      writePending(this.url, null);
      window.location.reload();
      return;
    }
    this.retry(); // no connection (status 0), a timeout, or a server error: try again
  };

  Sender.prototype.retry = function () {
    var self = this;
    // Jitter spreads a surge's retries out: thousands of phones that lost the same overloaded
    // server must not all come back in the same second.
    var base = RETRY_DELAYS[Math.min(this.attempt, RETRY_DELAYS.length - 1)];
    var delay = Math.round(base * (0.5 + Math.random()));
    this.attempt += 1;
    this.status.show("retrying");
    this.timer = window.setTimeout(function () { self.post(); }, delay);
  };

  // "None of these" clears the other ticks, and a tick clears "none of these" (the server
  // refuses the combination; this saves the resident the round trip).
  function exclusiveChoices(form) {
    var boxes = form.querySelectorAll("input[type=checkbox][name=answer]");
    function onChange(event) {
      var changed = event.currentTarget;
      if (!changed.checked) { return; }
      var exclusive = changed.getAttribute("data-exclusive") === "true";
      for (var i = 0; i < boxes.length; i++) {
        if (boxes[i] === changed) { continue; }
        if (exclusive || boxes[i].getAttribute("data-exclusive") === "true") {
          boxes[i].checked = false;
        }
      }
    }
    for (var i = 0; i < boxes.length; i++) { boxes[i].addEventListener("change", onChange); }
  }

  function enhance(form, sender) {
    exclusiveChoices(form);
    var action = "save";
    var buttons = form.querySelectorAll("button[name=action]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].addEventListener("click", function (event) {
        action = event.currentTarget.value;
      });
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (sender.busy) { return; }
      sender.send(submissionOf(form, action), form.getAttribute("data-next-url"), form);
      action = "save";
    });
  }

  function start() {
    var forms = document.querySelectorAll("form[data-h5-answer]");
    if (!forms.length || !window.JSON || !window.XMLHttpRequest) { return; }
    var url = forms[0].getAttribute("action");
    var allButtons = [];
    for (var i = 0; i < forms.length; i++) {
      var buttons = forms[i].querySelectorAll("button");
      for (var j = 0; j < buttons.length; j++) { allButtons.push(buttons[j]); }
    }
    var sender = new Sender(url, new Status(document.getElementById("h5-status")), allButtons);
    for (var k = 0; k < forms.length; k++) { enhance(forms[k], sender); }
    window.addEventListener("online", function () {
      if (sender.pending) { sender.attempt = 1; sender.post(); }
    });
    // An answer not sent before the tab closed or the phone lost its signal goes first.
    var left = readPending(url);
    if (left && left.body && left.key) {
      sender.pending = left;
      sender.form = forms[0];
      sender.attempt = 1;
      sender.lock(true);
      sender.post();
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

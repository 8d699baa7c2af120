// Questionnaire builder: edits the definition JSON in the browser (loaded from /static/, no
// inline script: CSP). The server stays the judge: it validates the whole definition on save
// and sends the problems back located at a question key and a field path; this script puts
// each one next to the input it is about. Keys of questions, option codes and list names are
// generated here (from the definition's own counter, `next_key`) and never shown: a lead works
// with texts and labels only. The hidden definition field mirrors every edit.
(() => {
  "use strict";

  const CHOICE_KINDS = new Set(["single_choice", "multiple_choice"]);

  // h("div", {class: "x", onclick: fn}, child, ...) builds an element.
  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [name, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "class") el.className = value;
      else if (name === "dataset") Object.assign(el.dataset, value);
      else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
      else if (name === "value") el.value = value;
      else if (name === "checked") el.checked = Boolean(value);
      else el.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : String(child));
    }
    return el;
  }

  function splitList(text) {
    return text.split(/[,，、\n]/).map((s) => s.trim()).filter(Boolean);
  }

  function todayIso() {
    const d = new Date();
    const pad = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  }

  class Builder {
    constructor(mount, definition, vocab, errors, textarea) {
      this.mount = mount;
      this.vocab = vocab;
      this.w = vocab.words;
      this.errors = errors;
      this.textarea = textarea;
      this.state = document.getElementById("json-state");
      this.load(definition);
    }

    load(definition) {
      this.def = definition;
      // Parts the definition did not have are left out again while they stay empty, so an
      // untouched questionnaire saves as exactly what was loaded (no needless new version).
      this.absent = ["questions", "risk_rules", "lists"].filter((k) => !(k in definition));
      if (!Array.isArray(this.def.questions)) this.def.questions = [];
      if (!Array.isArray(this.def.risk_rules)) this.def.risk_rules = [];
      if (!this.def.lists || typeof this.def.lists !== "object" || Array.isArray(this.def.lists)) {
        this.def.lists = {};
      }
    }

    start() {
      document.addEventListener("pointerdown", () => { this.pointerDown = true; }, true);
      document.addEventListener("pointerup", () => { this.pointerDown = false; }, true);
      this.render();
      if (this.textarea) {
        this.textarea.addEventListener("input", () => this.fromJson());
        const form = this.textarea.form;
        if (form) form.addEventListener("submit", () => this.sync());
      }
    }

    // --- the JSON box ---------------------------------------------------------------------

    sync() {
      const out = { ...this.def };
      for (const k of this.absent) {
        const v = out[k];
        if (Array.isArray(v) ? !v.length : v && typeof v === "object" && !Object.keys(v).length) delete out[k];
      }
      if (this.textarea) this.textarea.value = JSON.stringify(out, null, 2);
      if (this.state) this.state.textContent = "";
    }

    fromJson() {
      let parsed;
      try {
        parsed = JSON.parse(this.textarea.value);
      } catch {
        parsed = null;
      }
      if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
        if (this.state) this.state.textContent = this.w.invalid_json;
        return;
      }
      this.load(parsed);
      this.render(false);
      if (this.state) this.state.textContent = "";
    }

    // --- whole rendering ------------------------------------------------------------------

    render(sync = true) {
      // Keep the focus where it was: the structure around a renamed key or code is unchanged.
      const focusables = () => [...this.mount.querySelectorAll("input, select, textarea, button")];
      const active = document.activeElement;
      const focused = focusables().indexOf(active);
      let selection = null;
      try {
        selection = [active.selectionStart, active.selectionEnd, active.selectionDirection];
      } catch {
        selection = null;  // number and date inputs have no text selection
      }
      this.mount.replaceChildren(
        this.renderTexts(),
        this.renderLists(),
        this.renderQuestions(),
        this.renderRules(),
      );
      this.showErrors();
      if (sync) this.sync();
      const again = focused >= 0 ? focusables()[focused] : null;
      if (again) {
        again.focus({ preventScroll: true });
        if (selection && selection[0] !== null && again.setSelectionRange) {
          try { again.setSelectionRange(...selection); } catch { /* not a text field */ }
        }
      }
    }

    // Re-renders once the current click is over: rebuilding the DOM between a button's
    // mousedown and its click (a text field's change fires in between) would swallow the click.
    renderSoon() {
      if (this.pending) return;
      this.pending = true;
      const go = () => setTimeout(() => { this.pending = false; this.render(); }, 0);
      if (this.pointerDown) document.addEventListener("pointerup", go, { once: true, capture: true });
      else go();
    }

    changed() {
      this.sync();
    }

    input(props, path, get, set, tag = "input") {
      const el = h(tag, { ...props, value: get() ?? "" });
      el.addEventListener("input", () => { set(el.value); this.changed(); });
      return el;
    }

    field(label, control, path, extraClass) {
      return h("label", { class: `bfield ${extraClass || ""}`, dataset: path ? { path } : undefined },
        h("span", { class: "blabel" }, label), control);
    }

    button(text, onclick, cls = "btn secondary small", extra = {}) {
      return h("button", { type: "button", class: cls, onclick, ...extra }, text);
    }

    renderTexts() {
      const d = this.def;
      return h("section", { class: "card" },
        this.field(this.w.title,
          this.input({ type: "text", maxlength: 2000, class: "wide" }, "title",
            () => d.title, (v) => { d.title = v; }), "title"),
        this.field(this.w.intro,
          this.input({ rows: 4, class: "wide" }, "intro", () => d.intro, (v) => { d.intro = v; },
            "textarea"), "intro"),
        this.field(this.w.closing,
          this.input({ rows: 3, class: "wide" }, "closing", () => d.closing,
            (v) => { d.closing = v; }, "textarea"), "closing"),
      );
    }

    // --- named lists ----------------------------------------------------------------------

    // A list is known to people by its label; its name (what rules refer to) stays hidden.
    listLabel(name) {
      const labels = this.def.list_labels;
      const label = labels && typeof labels === "object" ? labels[name] : "";
      if (typeof label === "string" && label.trim()) return label;
      return `${this.w.list} ${Object.keys(this.def.lists).indexOf(name) + 1}`;
    }

    renderLists() {
      const lists = this.def.lists;
      const rows = Object.keys(lists).map((name) => {
        const label = h("input", { type: "text", maxlength: 40,
          value: (this.def.list_labels && this.def.list_labels[name]) || "" });
        label.addEventListener("input", () => {
          if (!this.def.list_labels || typeof this.def.list_labels !== "object") this.def.list_labels = {};
          this.def.list_labels[name] = label.value;
          this.changed();
        });
        const items = h("textarea", { rows: 4, class: "wide",
          value: (Array.isArray(lists[name]) ? lists[name] : []).join("\n") });
        items.addEventListener("input", () => {
          lists[name] = items.value.split("\n").map((s) => s.trim()).filter(Boolean);
          this.changed();
        });
        const remove = () => {
          delete lists[name];
          if (this.def.list_labels) delete this.def.list_labels[name];
          this.render();
        };
        return h("div", { class: "brow list-row", dataset: { path: `lists.${name}` } },
          this.field(this.w.list_name, label, `list_labels.${name}`),
          this.field(this.w.list_items, items, null, "grow"),
          this.button(this.w.remove, remove, "btn secondary small danger"));
      });
      return h("section", { class: "card", dataset: { path: "lists" } },
        h("h2", {}, this.w.lists),
        rows,
        this.button(this.w.add_list, () => {
          lists[this.nextKey("list")] = [];
          this.render();
        }));
    }

    // --- generated keys -------------------------------------------------------------------

    // Returns a new key ("q12", "o13", "list14") for a question, an option or a list. The
    // number comes from the definition's counter, which only grows: a key deleted today is
    // never given to another question tomorrow, so answers stored under it keep their meaning.
    nextKey(prefix) {
      const taken = new Set(Object.keys(this.def.lists));
      let n = Number.isInteger(this.def.next_key) && this.def.next_key > 0 ? this.def.next_key : 1;
      for (const q of this.def.questions) {
        if (!q || typeof q !== "object") continue;
        taken.add(q.key);
        for (const o of Array.isArray(q.options) ? q.options : []) if (o) taken.add(o.code);
      }
      for (const key of taken) {
        const m = /^[a-z]+(\d+)$/.exec(typeof key === "string" ? key : "");
        if (m && Number(m[1]) >= n) n = Number(m[1]) + 1;
      }
      this.def.next_key = n + 1;
      return `${prefix}${n}`;
    }

    // --- questions ------------------------------------------------------------------------

    renderQuestions() {
      const qs = this.def.questions;
      return h("section", { class: "bquestions", dataset: { path: "questions" } },
        h("h2", {}, `${qs.length} ${this.w.question_count}`),
        qs.length ? qs.map((q, i) => this.renderQuestion(q, i)) : h("p", { class: "muted" }, this.w.no_questions),
        this.button(this.w.add_question, () => this.addQuestion(), "btn"));
    }

    addQuestion() {
      this.def.questions.push({ key: this.nextKey("q"), text: "", kind: "yes_no", required: true });
      this.render();
      const cards = this.mount.querySelectorAll(".bquestion");
      const last = cards[cards.length - 1];
      if (last) last.querySelector("textarea")?.focus();
    }

    renderQuestion(q, i) {
      const qs = this.def.questions;
      const key = typeof q.key === "string" ? q.key : "";
      const kind = h("select", {},
        this.vocab.kinds.map((k) => h("option", { value: k.code, selected: k.code === q.kind }, k.label)));
      kind.addEventListener("change", () => this.changeKind(q, kind.value));
      const required = h("input", { type: "checkbox", checked: Boolean(q.required) });
      required.addEventListener("change", () => { q.required = required.checked; this.changed(); });
      const move = (delta) => {
        const j = i + delta;
        if (j < 0 || j >= qs.length) return;
        [qs[i], qs[j]] = [qs[j], qs[i]];
        this.render();
      };
      const remove = () => {
        qs.splice(i, 1);
        for (const other of qs) {
          if (Array.isArray(other.next)) other.next = other.next.filter((b) => !b || b.goto !== key);
          if (Array.isArray(other.next) && !other.next.length) delete other.next;
        }
        this.render();
      };
      return h("article", { class: "card bquestion", dataset: { path: `q:${key}`, path2: `questions[${i}]`, key } },
        h("header", { class: "bhead" },
          h("strong", { dataset: { path: `q:${key}/key` } }, `${this.w.question} ${i + 1}`),
          h("span", { class: "tools" },
            this.button("↑", () => move(-1), "btn secondary small", { title: this.w.move_up, "aria-label": this.w.move_up, disabled: i === 0 }),
            this.button("↓", () => move(1), "btn secondary small", { title: this.w.move_down, "aria-label": this.w.move_down, disabled: i === qs.length - 1 }),
            this.button(this.w.remove, remove, "btn secondary small danger"))),
        this.field(this.w.text,
          this.input({ rows: 2, class: "wide", maxlength: 500 }, null, () => q.text, (v) => { q.text = v; }, "textarea"),
          `q:${key}/text`),
        h("div", { class: "brow" },
          this.field(this.w.kind, kind, `q:${key}/kind`),
          h("label", { class: "bcheck", dataset: { path: `q:${key}/required` } }, required, " ", this.w.required)),
        this.renderKindDetails(q, key),
        this.renderBranches(q, i, key));
    }

    eachLeaf(fn) {
      const walk = (c) => {
        if (!c || typeof c !== "object") return;
        if (Array.isArray(c.all)) c.all.forEach(walk);
        if (Array.isArray(c.any)) c.any.forEach(walk);
        if (c.not) walk(c.not);
        if (typeof c.q === "string") fn(c);
      };
      for (const q of this.def.questions) {
        for (const b of Array.isArray(q.next) ? q.next : []) if (b) walk(b.when);
      }
      for (const r of this.def.risk_rules) if (r) walk(r.when);
    }

    changeKind(q, kind) {
      q.kind = kind;
      // Conditions on this question keep fitting it: a comparison the new kind has not is
      // replaced by its first one, with a value to match.
      const ops = this.vocab.operators[kind] || [];
      this.eachLeaf((leaf) => {
        if (leaf.q !== q.key || ops.includes(leaf.op)) return;
        leaf.op = ops[0];
        leaf.value = undefined;
      });
      if (CHOICE_KINDS.has(kind)) {
        if (!Array.isArray(q.options) || q.options.length < 2) {
          q.options = [{ code: this.nextKey("o"), label: "" }, { code: this.nextKey("o"), label: "" }];
        }
        if (kind === "single_choice") q.options.forEach((o) => { delete o.exclusive; });
      } else {
        delete q.options;
      }
      const fits = (v) => (kind === "number" ? typeof v === "number"
        : kind === "date" ? (v === "today" || /^\d{4}-\d{2}-\d{2}$/.test(v)) : false);
      for (const bound of ["min", "max"]) if (bound in q && !fits(q[bound])) delete q[bound];
      this.eachLeaf((leaf) => {
        if (leaf.q === q.key && leaf.value === undefined) leaf.value = this.defaultValue(q, leaf.op);
      });
      this.render();
    }

    renderKindDetails(q, key) {
      if (CHOICE_KINDS.has(q.kind)) return this.renderOptions(q, key);
      if (q.kind === "number") {
        const bound = (name) => {
          const el = h("input", { type: "number", step: "any", value: q[name] ?? "" });
          el.addEventListener("input", () => {
            if (el.value === "") delete q[name]; else q[name] = Number(el.value);
            this.changed();
          });
          return this.field(this.w[name], el, `q:${key}/${name}`);
        };
        return h("div", { class: "brow" }, bound("min"), bound("max"));
      }
      if (q.kind === "date") {
        const bound = (name) => {
          const isToday = q[name] === "today";
          const date = h("input", { type: "date", value: isToday ? "" : (q[name] ?? ""), disabled: isToday });
          const today = h("input", { type: "checkbox", checked: isToday });
          date.addEventListener("input", () => {
            if (date.value) q[name] = date.value; else delete q[name];
            this.changed();
          });
          today.addEventListener("change", () => {
            if (today.checked) q[name] = "today"; else delete q[name];
            this.render();
          });
          return h("div", { class: "bfield", dataset: { path: `q:${key}/${name}` } },
            h("span", { class: "blabel" }, this.w[name]),
            h("span", { class: "brow tight" }, date, h("label", { class: "bcheck" }, today, " ", this.w.today)));
        };
        return h("div", { class: "brow" }, bound("min"), bound("max"));
      }
      return null;
    }

    renderOptions(q, key) {
      if (!Array.isArray(q.options)) q.options = [];
      const multiple = q.kind === "multiple_choice";
      const rows = q.options.map((o, j) => {
        if (!o || typeof o !== "object") return null;
        // The condition editors show option labels as they were at the last redraw.
        const label = this.input({ type: "text", maxlength: 100 }, null, () => o.label, (v) => { o.label = v; });
        const parts = [
          this.field(`${this.w.option} ${j + 1}`, label, `q:${key}/options[${j}].label`, "grow"),
        ];
        if (multiple) {
          const exclusive = h("input", { type: "checkbox", checked: Boolean(o.exclusive) });
          exclusive.addEventListener("change", () => {
            if (exclusive.checked) o.exclusive = true; else delete o.exclusive;
            this.changed();
          });
          parts.push(h("label", { class: "bcheck" }, exclusive, " ", this.w.exclusive));
        }
        parts.push(this.button(this.w.remove, () => { q.options.splice(j, 1); this.render(); }, "btn secondary small danger"));
        return h("div", { class: "brow option-row", dataset: { path: `q:${key}/options[${j}]` } }, parts);
      });
      return h("fieldset", { class: "boptions", dataset: { path: `q:${key}/options` } },
        h("legend", {}, this.w.options),
        rows,
        this.button(this.w.add_option, () => {
          q.options.push({ code: this.nextKey("o"), label: "" });
          this.render();
        }));
    }

    // --- branching ------------------------------------------------------------------------

    renderBranches(q, i, key) {
      const qs = this.def.questions;
      const branches = Array.isArray(q.next) ? q.next : [];
      const earlier = qs.slice(0, i + 1).map((x) => x.key);
      const rows = branches.map((b, n) => {
        if (!b || typeof b !== "object") return null;
        const path = `q:${key}/next[${n}]`;
        const goto = h("select", {},
          qs.slice(i + 1).map((x, k) => h("option", { value: x.key, selected: b.goto === x.key },
            this.questionName(x, i + k + 1))),
          h("option", { value: this.vocab.end, selected: b.goto === this.vocab.end }, this.w.end));
        // Keep a target the builder cannot offer (a bad one the server will point at).
        if (b.goto !== this.vocab.end && !qs.slice(i + 1).some((x) => x.key === b.goto)) {
          goto.prepend(h("option", { value: b.goto ?? "", selected: true }, this.w.missing));
        }
        goto.addEventListener("change", () => { b.goto = goto.value; this.changed(); });
        if (b.goto === undefined) b.goto = goto.value;
        const condition = this.conditionEditor(b.when, `${path}.when`, earlier, (c) => {
          if (c === undefined) delete b.when; else b.when = c;
          this.changed();
        }, true);
        return h("div", { class: "branch-row", dataset: { path } },
          h("span", { class: "blabel" }, this.w.branch_if),
          condition,
          h("div", { class: "brow" },
            this.field(this.w.go_to, goto, `${path}.goto`),
            this.button(this.w.remove, () => {
              branches.splice(n, 1);
              if (!branches.length) delete q.next;
              this.render();
            }, "btn secondary small danger")));
      });
      return h("fieldset", { class: "bbranches", dataset: { path: `q:${key}/next` } },
        h("legend", {}, this.w.branches),
        rows,
        this.button(this.w.add_branch, () => {
          const later = qs[i + 1];
          const branch = { when: this.newLeaf(q.key, earlier), goto: later ? later.key : this.vocab.end };
          if (!branch.when) delete branch.when;
          if (!Array.isArray(q.next)) q.next = [];
          q.next.push(branch);
          this.render();
        }));
    }

    // --- conditions -----------------------------------------------------------------------

    question(key) {
      return this.def.questions.find((q) => q.key === key);
    }

    optionLabel(q, o) {
      if (typeof o.label === "string" && o.label.trim()) return o.label;
      return `${this.w.option} ${q.options.indexOf(o) + 1}`;
    }

    newLeaf(preferred, allowed) {
      const key = allowed.includes(preferred) ? preferred : allowed[allowed.length - 1];
      if (!key) return undefined;
      const q = this.question(key);
      const op = (this.vocab.operators[q && q.kind] || ["answered"])[0];
      return { q: key, op, value: this.defaultValue(q, op) };
    }

    defaultValue(q, op) {
      const kind = q ? q.kind : "";
      const codes = (q && Array.isArray(q.options) ? q.options : []).map((o) => o && o.code);
      if (op === "answered") return true;
      if (op === "within_days") return 14;
      if (kind === "yes_no") return true;
      if (kind === "single_choice") return op === "in" ? codes.slice(0, 1) : codes[0] ?? "";
      if (kind === "multiple_choice") return codes[0] ?? "";
      if (kind === "number") return op === "in" ? [] : (typeof q.min === "number" ? q.min : 0);
      if (kind === "date") return todayIso();
      if (kind === "short_text" && op === "in") {
        const names = Object.keys(this.def.lists);
        return names.length ? { list: names[0] } : [];
      }
      return "";
    }

    // --- the condition editor (branching and risk rules alike) ---------------------------
    //
    // A condition is edited as a group: "all of these hold" / "any of these holds" / "none of
    // these holds", whose rows are conditions on one question or nested groups. The editor
    // holds groups as {mode, children}; a row is the JSON leaf itself, edited in place, and
    // every structural change writes the whole condition back through `onChange`.

    groupOf(cond) {
      const isObject = cond && typeof cond === "object" && !Array.isArray(cond);
      if (isObject && Array.isArray(cond.all)) return { mode: "all", children: cond.all.map((c) => this.nodeOf(c)) };
      if (isObject && Array.isArray(cond.any)) return { mode: "any", children: cond.any.map((c) => this.nodeOf(c)) };
      if (isObject && "not" in cond) {
        const inner = cond.not;
        if (inner && typeof inner === "object" && Array.isArray(inner.any) && Object.keys(inner).length === 1) {
          return { mode: "none", children: inner.any.map((c) => this.nodeOf(c)) };
        }
        return { mode: "none", children: [this.nodeOf(inner)] };
      }
      return { mode: "all", children: [cond] };
    }

    nodeOf(cond) {
      const isGroup = cond && typeof cond === "object" && ("all" in cond || "any" in cond || "not" in cond);
      return isGroup ? this.groupOf(cond) : cond;
    }

    // The JSON of a group; a lone condition at the top is written as itself (as the ready
    // templates write it), so an untouched rule keeps its shape.
    conditionOf(group, top) {
      const parts = group.children.map((c) => (c && c.mode ? this.conditionOf(c, false) : c));
      if (group.mode === "none") return { not: parts.length === 1 ? parts[0] : { any: parts } };
      if (top && parts.length === 1 && !group.children[0].mode) return parts[0];
      return { [group.mode]: parts };
    }

    childPath(group, path, n, top) {
      if (group.mode === "none") return group.children.length === 1 ? `${path}.not` : `${path}.not.any[${n}]`;
      if (top && group.children.length === 1 && !group.children[0].mode) return path;
      return `${path}.${group.mode}[${n}]`;
    }

    conditionEditor(cond, path, allowed, onChange, allowAlways) {
      const root = cond === undefined ? { mode: allowAlways ? "always" : "all", children: [] } : this.groupOf(cond);
      const box = h("div", { class: "condition", dataset: { path } });
      const emit = () => {
        if (root.mode === "always" || !root.children.length) onChange(allowAlways ? undefined : { all: [] });
        else onChange(this.conditionOf(root, true));
      };
      const redraw = () => {
        emit();
        box.replaceChildren(this.groupEditor(root, path, allowed, { top: true, allowAlways, emit, redraw }));
        this.showErrors(box);
      };
      box.append(this.groupEditor(root, path, allowed, { top: true, allowAlways, emit, redraw }));
      return box;
    }

    groupEditor(group, path, allowed, { top, allowAlways, emit, redraw, onRemove, depth = 0 }) {
      const modes = [["all", this.w.all], ["any", this.w.any], ["none", this.w.none]];
      const mode = h("select", { class: "mode", "aria-label": this.w.condition_group },
        top && allowAlways ? h("option", { value: "always", selected: group.mode === "always" }, this.w.always) : null,
        modes.map(([value, label]) => h("option", { value, selected: group.mode === value }, label)));
      mode.addEventListener("change", () => {
        group.mode = mode.value;
        if (group.mode !== "always" && !group.children.length) {
          const leaf = this.newLeaf(allowed[allowed.length - 1], allowed);
          if (leaf) group.children.push(leaf);
        }
        if (group.mode === "always") group.children = [];
        redraw();
      });
      const head = h("div", { class: "cgroup-head" }, mode,
        onRemove ? this.button(this.w.remove_group, onRemove, "btn secondary small danger") : null);
      const box = h("div", { class: top ? "cgroup" : "cgroup nested", dataset: top ? undefined : { path } }, head);
      if (group.mode === "always") return box;
      group.children.forEach((child, n) => {
        const where = this.childPath(group, path, n, top);
        const removeChild = () => {
          group.children.splice(n, 1);
          if (!group.children.length && top && allowAlways) group.mode = "always";
          redraw();
        };
        if (child && child.mode) {
          box.append(this.groupEditor(child, where, allowed, {
            top: false, emit, redraw, depth: depth + 1,
            onRemove: removeChild,
          }));
        } else {
          box.append(this.leafEditor(child || {}, where, allowed, emit, removeChild));
        }
      });
      const addLeaf = () => {
        const leaf = this.newLeaf(allowed[allowed.length - 1], allowed);
        if (!leaf) return;
        group.children.push(leaf);
        redraw();
      };
      const addGroup = () => {
        const leaf = this.newLeaf(allowed[allowed.length - 1], allowed);
        if (!leaf) return;
        // A lone condition at the top becomes the first row of an explicit group.
        group.children.push({ mode: group.mode === "any" ? "all" : "any", children: [leaf] });
        redraw();
      };
      box.append(h("div", { class: "cgroup-tools" },
        this.button(this.w.add_condition, addLeaf),
        // The server refuses conditions nested deeper than five levels; three is plenty.
        depth < 2 ? this.button(this.w.add_group, addGroup) : null));
      return box;
    }

    // "3. 您目前有没有以下症状？" — how a question is named in pickers (never by its key).
    questionName(q, index) {
      const text = q && typeof q.text === "string" && q.text.trim() ? q.text.trim() : this.w.untitled;
      const short = text.length > 24 ? `${text.slice(0, 24)}…` : text;
      return `${index + 1}. ${short}`;
    }

    leafEditor(leaf, path, allowed, onChange, onRemove) {
      const row = h("div", { class: "leaf", dataset: { path } });
      const draw = () => {
        const q = this.question(leaf.q);
        const qSelect = h("select", {},
          allowed.map((key) => h("option", { value: key, selected: key === leaf.q },
            this.questionName(this.question(key), this.def.questions.findIndex((x) => x.key === key)))));
        // A question deleted (or moved below a jump) since: kept, unnamed, until changed.
        if (!allowed.includes(leaf.q)) qSelect.prepend(h("option", { value: leaf.q ?? "", selected: true }, this.w.missing));
        qSelect.addEventListener("change", () => {
          leaf.q = qSelect.value;
          const nq = this.question(leaf.q);
          const ops = this.vocab.operators[nq && nq.kind] || [];
          if (!ops.includes(leaf.op)) leaf.op = ops[0];
          leaf.value = this.defaultValue(nq, leaf.op);
          onChange(); draw();
        });
        const ops = this.vocab.operators[q && q.kind] || Object.keys(this.vocab.operator_labels);
        const opSelect = h("select", {},
          ops.map((op) => h("option", { value: op, selected: op === leaf.op }, this.vocab.operator_labels[op] || op)));
        if (!ops.includes(leaf.op)) opSelect.prepend(h("option", { value: leaf.op ?? "", selected: true }, "—"));
        opSelect.addEventListener("change", () => {
          leaf.op = opSelect.value;
          leaf.value = this.defaultValue(q, leaf.op);
          onChange(); draw();
        });
        row.replaceChildren(
          h("span", { dataset: { path: `${path}.q` } }, qSelect),
          h("span", { dataset: { path: `${path}.op` } }, opSelect),
          h("span", { class: "leaf-value", dataset: { path: `${path}.value` } }, this.valueEditor(leaf, q, onChange)),
          this.button("×", onRemove, "btn secondary small danger", { title: this.w.remove, "aria-label": this.w.remove }));
      };
      draw();
      return row;
    }

    valueEditor(leaf, q, onChange) {
      const kind = q ? q.kind : "";
      const op = leaf.op;
      const options = q && Array.isArray(q.options) ? q.options.filter((o) => o && typeof o === "object") : [];
      const set = (v) => { leaf.value = v; onChange(); };
      const yesNo = () => {
        const el = h("select", {},
          h("option", { value: "true", selected: leaf.value === true }, this.w.yes),
          h("option", { value: "false", selected: leaf.value === false }, this.w.no));
        el.addEventListener("change", () => set(el.value === "true"));
        return el;
      };
      const checks = (asScalarWhenOne) => {
        const picked = new Set(Array.isArray(leaf.value) ? leaf.value : (leaf.value ? [leaf.value] : []));
        return h("span", { class: "checks" }, options.map((o) => {
          const box = h("input", { type: "checkbox", value: o.code, checked: picked.has(o.code) });
          box.addEventListener("change", () => {
            if (box.checked) picked.add(o.code); else picked.delete(o.code);
            const codes = options.map((x) => x.code).filter((c) => picked.has(c));
            set(asScalarWhenOne && codes.length === 1 ? codes[0] : codes);
          });
          return h("label", { class: "bcheck" }, box, " ", this.optionLabel(q, o));
        }));
      };
      const text = (parse, shown, type = "text") => {
        const el = h("input", { type, step: type === "number" ? "any" : undefined, value: shown });
        el.addEventListener("input", () => set(parse(el.value)));
        return el;
      };
      // A question deleted since: nothing to choose from until another question is picked.
      if (!q) return h("span", { class: "muted" }, "—");
      if (op === "answered") return yesNo();
      if (op === "within_days") {
        return h("span", {}, text((v) => (v === "" ? null : Math.round(Number(v))), leaf.value ?? "", "number"), " ", this.w.days);
      }
      if (kind === "yes_no") return yesNo();
      if (kind === "single_choice" && op !== "in") {
        const el = h("select", {}, options.map((o) => h("option", { value: o.code, selected: o.code === leaf.value }, this.optionLabel(q, o))));
        if (!options.some((o) => o.code === leaf.value)) el.prepend(h("option", { value: "", selected: true }, "—"));
        el.addEventListener("change", () => set(el.value));
        return el;
      }
      if (kind === "single_choice") return checks(false);
      if (kind === "multiple_choice") return checks(true);
      if (op === "in") {
        const lists = Object.keys(this.def.lists);
        const typed = Array.isArray(leaf.value) ? leaf.value : [];
        const parse = kind === "number"
          ? (v) => splitList(v).map(Number)
          : (v) => splitList(v);
        const input = text(parse, typed.join("、"));
        input.setAttribute("placeholder", this.w.comma_help);
        if (kind !== "short_text" || !lists.length) return input;
        const source = h("select", {},
          lists.map((name) => h("option", { value: name, selected: leaf.value && leaf.value.list === name }, `${this.w.list_prefix}${this.listLabel(name)}`)),
          h("option", { value: "", selected: Array.isArray(leaf.value) }, this.w.typed_values));
        input.hidden = !Array.isArray(leaf.value);
        source.addEventListener("change", () => {
          input.hidden = source.value !== "";
          set(source.value ? { list: source.value } : parse(input.value));
        });
        return h("span", {}, source, " ", input);
      }
      if (kind === "number") return text((v) => (v === "" ? null : Number(v)), leaf.value ?? "", "number");
      if (kind === "date") return text((v) => v, typeof leaf.value === "string" ? leaf.value : "", "date");
      return text((v) => v, typeof leaf.value === "string" ? leaf.value : "");
    }

    // --- risk rules -----------------------------------------------------------------------

    renderRules() {
      const rules = this.def.risk_rules;
      const keys = this.def.questions.map((q) => q.key);
      const rows = rules.map((rule, r) => {
        if (!rule || typeof rule !== "object") return null;
        const path = `risk_rules[${r}]`;
        const level = h("select", {}, this.vocab.levels.map((l) =>
          h("option", { value: l.code, selected: (rule.level || "none") === l.code }, l.label)));
        level.addEventListener("change", () => { rule.level = level.value; this.changed(); });
        const picked = new Set(Array.isArray(rule.follow_ups) ? rule.follow_ups : []);
        const followUps = h("span", { class: "checks" }, this.vocab.follow_ups.map((f) => {
          const box = h("input", { type: "checkbox", checked: picked.has(f.code) });
          box.addEventListener("change", () => {
            if (box.checked) picked.add(f.code); else picked.delete(f.code);
            rule.follow_ups = this.vocab.follow_ups.map((x) => x.code).filter((c) => picked.has(c));
            this.changed();
          });
          return h("label", { class: "bcheck" }, box, " ", f.label);
        }));
        const move = (delta) => {
          const j = r + delta;
          if (j < 0 || j >= rules.length) return;
          [rules[r], rules[j]] = [rules[j], rules[r]];
          this.render();
        };
        return h("article", { class: "card brule", dataset: { path } },
          h("header", { class: "bhead" },
            h("strong", {}, `${this.w.rule} ${r + 1}`),
            h("span", { class: "tools" },
              this.button("↑", () => move(-1), "btn secondary small", { title: this.w.move_up, "aria-label": this.w.move_up, disabled: r === 0 }),
              this.button("↓", () => move(1), "btn secondary small", { title: this.w.move_down, "aria-label": this.w.move_down, disabled: r === rules.length - 1 }),
              this.button(this.w.remove, () => { rules.splice(r, 1); this.render(); }, "btn secondary small danger"))),
          h("div", { class: "bfield", dataset: { path: `${path}.when` } },
            h("span", { class: "blabel" }, this.w.when),
            this.conditionEditor(rule.when, `${path}.when`, keys, (c) => { rule.when = c; this.changed(); }, false)),
          h("div", { class: "brow" },
            this.field(this.w.level, level, `${path}.level`),
            h("div", { class: "bfield", dataset: { path: `${path}.follow_ups` } }, h("span", { class: "blabel" }, this.w.follow_ups), followUps)),
          this.field(this.w.reason,
            this.input({ type: "text", maxlength: 100, class: "wide" }, null, () => rule.reason, (v) => { rule.reason = v; }),
            `${path}.reason`));
      });
      return h("section", { class: "brules", dataset: { path: "risk_rules" } },
        h("h2", {}, this.w.risk_rules),
        rows,
        this.button(this.w.add_rule, () => {
          const keys2 = this.def.questions.map((q) => q.key);
          const when = this.newLeaf(keys2[0], keys2) || { all: [] };
          rules.push({ when, level: "medium", follow_ups: ["door_visit"], reason: "" });
          this.render();
        }, "btn"));
    }

    // --- problems from the server ---------------------------------------------------------

    errorPath(error) {
      // A risk rule's problem is shown in the rule, even when it is about one question.
      if (!error.key || error.field.startsWith("risk_rules[")) return error.field;
      const base = error.key.startsWith("questions[") ? error.key : `q:${error.key}`;
      return error.field ? `${base}/${error.field}` : base;
    }

    showErrors(scope) {
      const root = scope || this.mount;
      root.querySelectorAll(".field-error").forEach((el) => el.remove());
      root.querySelectorAll(".has-error").forEach((el) => el.classList.remove("has-error"));
      const nodes = [...this.mount.querySelectorAll("[data-path]")];
      for (const error of this.errors) {
        const path = this.errorPath(error);
        let best = null;
        let bestLength = -1;
        for (const node of nodes) {
          for (const p of [node.dataset.path, node.dataset.path2]) {
            if (!p) continue;
            const fits = path === p || [".", "/", "["].some((sep) => path.startsWith(p + sep));
            if (fits && p.length > bestLength) { best = node; bestLength = p.length; }
          }
        }
        if (!best || (scope && !scope.contains(best))) continue;
        best.classList.add("has-error");
        best.append(h("span", { class: "field-error", role: "alert" }, error.message));
      }
    }
  }

  // The preview answers a broken definition with 400 and says why: show it (htmx leaves 4xx
  // answers unswapped by default).
  document.addEventListener("htmx:beforeSwap", (event) => {
    const target = event.detail.target;
    if (event.detail.xhr.status === 400 && target && target.closest("[data-swap-errors]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  document.addEventListener("DOMContentLoaded", () => {
    const preview = document.getElementById("preview");
    if (preview) preview.hidden = false;
    const mount = document.getElementById("builder");
    const data = document.getElementById("definition-data");
    if (!mount || !data) return;
    const definition = JSON.parse(data.textContent);
    // Without a readable definition (the JSON posted was broken) the JSON box is the editor.
    if (!definition || typeof definition !== "object" || Array.isArray(definition)) return;
    const vocab = JSON.parse(document.getElementById("builder-vocab").textContent);
    const errors = JSON.parse(document.getElementById("definition-errors-data").textContent) || [];
    new Builder(mount, definition, vocab, errors, document.getElementById("id_definition")).start();
    const outline = document.getElementById("outline");
    if (outline) outline.hidden = true;
    // The builder edits everything; the definition travels in its field, out of sight.
    const jsonBox = document.getElementById("json-box");
    if (jsonBox) jsonBox.hidden = true;
    mount.hidden = false;
  });
})();

// The weekly hours editor (one block per day, Monday first; #day-0 is Sunday as in the API) and the
// date overrides list. Both keep their own model and tell the page about every change through
// onChange, so the page can mark unsaved changes and refresh the preview.
import { el } from "/assets/api.js";
import {
  addDays, apiEnd, endMinutes, inputEnd, longDate, nextId, rangeProblem, say, startMinutes,
} from "/assets/manage-util.js";

export const DAY_NAMES = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
/** The order the days are shown in: Monday first. */
export const UI_ORDER = [1, 2, 3, 4, 5, 6, 0];

const pad = (n) => String(n).padStart(2, "0");
const hhmm = (minutes) => (minutes >= 1440 ? "00:00" : `${pad(Math.floor(minutes / 60))}:${pad(minutes % 60)}`);
const copyRanges = (list) => list.map((r) => ({ start: r.start, end: r.end }));

/** A time range's inputs, remove button and inline error; `kind` is its class (window, break...). */
function rangeRow(range, { kind, label, onInput, onRemove }) {
  const startId = nextId("t");
  const endId = nextId("t");
  const errorId = nextId("err");
  const start = el("input", { id: startId, class: "start", type: "time", step: 60, value: range.start, "aria-describedby": errorId });
  const end = el("input", { id: endId, class: "end", type: "time", step: 60, value: range.end, "aria-describedby": errorId });
  const error = el("p", { class: "field-error", id: errorId });
  const check = () => {
    const problem = rangeProblem(range.start, range.end);
    error.textContent = problem;
    start.setAttribute("aria-invalid", String(!range.start));
    end.setAttribute("aria-invalid", String(Boolean(problem) && Boolean(range.start)));
  };
  const update = () => {
    range.start = start.value;
    range.end = end.value;
    check();
    onInput();
  };
  start.addEventListener("input", update);
  end.addEventListener("input", update);
  start.addEventListener("change", update);
  end.addEventListener("change", update);
  check();
  return el("li", { class: `range ${kind}` },
    el("label", { for: startId, class: "visually-hidden" }, `${label} start`),
    start,
    el("span", { class: "dash", "aria-hidden": "true" }, "–"),
    el("label", { for: endId, class: "visually-hidden" }, `${label} end`),
    end,
    el("button", { class: "btn btn-link remove", type: "button", "aria-label": `Remove ${label.toLowerCase()}`, title: "Remove", onclick: onRemove }, "×"),
    error);
}

/** The seven days' windows and breaks. */
export class WeeklyEditor {
  constructor(container, onChange) {
    this.container = container;
    this.onChange = onChange;
    this.days = DAY_NAMES.map(() => ({ windows: [], breaks: [] }));
  }

  load(rules) {
    this.days = DAY_NAMES.map(() => ({ windows: [], breaks: [] }));
    const sorted = [...rules].sort((a, b) => a.day_of_week - b.day_of_week || a.start_time.localeCompare(b.start_time));
    for (const r of sorted) {
      const day = this.days[r.day_of_week];
      if (!day) continue;
      (r.is_available ? day.windows : day.breaks).push({ start: r.start_time, end: inputEnd(r.end_time) });
    }
    this.render();
  }

  /** The API's rules: windows as is_available true, breaks as false. */
  rules() {
    const rules = [];
    this.days.forEach((day, d) => {
      for (const w of day.windows) rules.push({ day_of_week: d, start_time: w.start, end_time: apiEnd(w.end), is_available: true });
      for (const b of day.breaks) rules.push({ day_of_week: d, start_time: b.start, end_time: apiEnd(b.end), is_available: false });
    });
    return rules;
  }

  /** The windows of a weekday, for an override's special hours. */
  windowsOf(dayOfWeek) {
    return copyRanges(this.days[dayOfWeek].windows);
  }

  problems() {
    return this.days.flatMap((d) => [...d.windows, ...d.breaks]).filter((r) => rangeProblem(r.start, r.end)).length;
  }

  render() {
    this.container.replaceChildren(...UI_ORDER.map((d) => this.dayBlock(d)));
  }

  rerenderDay(d, focusSelector) {
    const old = this.container.querySelector(`#day-${d}`);
    const fresh = this.dayBlock(d);
    old.replaceWith(fresh);
    if (focusSelector) {
      const target = fresh.querySelector(focusSelector);
      if (target) target.focus();
    }
  }

  summary(d) {
    const day = this.days[d];
    if (day.windows.length === 0) return "Unavailable";
    const minutes = day.windows.reduce((sum, w) => sum + Math.max(0, endMinutes(w.end) - startMinutes(w.start) || 0), 0)
      - day.breaks.reduce((sum, b) => sum + Math.max(0, endMinutes(b.end) - startMinutes(b.start) || 0), 0);
    const hours = Math.max(0, minutes) / 60;
    const text = `${Number.isInteger(hours) ? hours : hours.toFixed(1)} h`;
    return day.breaks.length ? `${text} · ${day.breaks.length} break${day.breaks.length > 1 ? "s" : ""}` : text;
  }

  dayBlock(d) {
    const name = DAY_NAMES[d];
    const day = this.days[d];
    const titleId = `day-${d}-title`;
    const summary = el("span", { class: "day-summary" }, this.summary(d));
    const changed = () => {
      summary.textContent = this.summary(d);
      block.classList.toggle("is-off", day.windows.length === 0);
      this.onChange();
    };
    const rows = (list, kind, label) => list.map((range, i) => rangeRow(range, {
      kind,
      label: `${name} ${label} ${i + 1}`,
      onInput: changed,
      onRemove: () => {
        list.splice(i, 1);
        this.rerenderDay(d, kind === "window" ? ".add-window" : ".add-break");
        this.onChange();
      },
    }));
    const windows = el("ul", { class: "ranges windows", "aria-label": `${name} hours` }, rows(day.windows, "window", "hours"));
    const breaks = el("ul", { class: "ranges breaks", "aria-label": `${name} breaks` }, rows(day.breaks, "break", "break"));
    const addWindow = el("button", { class: "btn btn-small add-window", type: "button", "aria-label": `Add hours on ${name}` }, "+ Hours");
    addWindow.addEventListener("click", () => {
      const last = day.windows[day.windows.length - 1];
      let range = { start: "09:00", end: "17:00" };
      if (last && last.end && last.end !== "00:00") {
        const from = endMinutes(last.end) + 60;
        range = from >= 1440 ? { start: "", end: "" } : { start: hhmm(from), end: hhmm(Math.min(1440, from + 120)) };
      } else if (last) {
        range = { start: "", end: "" };
      }
      day.windows.push(range);
      this.rerenderDay(d, ".window:last-of-type input.start");
      this.onChange();
    });
    const addBreak = el("button", { class: "btn btn-small add-break", type: "button", "aria-label": `Add a break on ${name}` }, "+ Break");
    addBreak.addEventListener("click", () => {
      day.breaks.push({ start: "12:00", end: "13:00" });
      this.rerenderDay(d, ".break:last-of-type input.start");
      this.onChange();
    });
    const block = el("section", { class: `day${day.windows.length === 0 ? " is-off" : ""}`, id: `day-${d}`, "aria-labelledby": titleId },
      el("div", { class: "day-head" }, el("h3", { id: titleId }, name), summary),
      el("div", { class: "day-body" },
        day.windows.length === 0 ? el("p", { class: "day-off muted small" }, "Unavailable") : null,
        windows,
        day.breaks.length ? el("p", { class: "breaks-title small" }, "Breaks") : null,
        breaks,
        el("div", { class: "day-actions" }, addWindow, addBreak, this.copyMenu(d))));
    return block;
  }

  /** "Copy to…": a small picker of the other days; replaces their hours and breaks. */
  copyMenu(d) {
    const name = DAY_NAMES[d];
    const boxes = UI_ORDER.filter((x) => x !== d).map((x) => {
      const id = nextId("copy");
      return el("label", { class: "inline-choice", for: id }, el("input", { id, type: "checkbox", value: x }), DAY_NAMES[x]);
    });
    const details = el("details", { class: "copy" });
    const weekdays = el("button", { class: "btn btn-link small", type: "button" }, "Weekdays");
    weekdays.addEventListener("click", () => {
      for (const label of boxes) {
        const box = label.querySelector("input");
        box.checked = Number(box.value) >= 1 && Number(box.value) <= 5;
      }
    });
    const all = el("button", { class: "btn btn-link small", type: "button" }, "All");
    all.addEventListener("click", () => boxes.forEach((label) => { label.querySelector("input").checked = true; }));
    const apply = el("button", { class: "btn btn-primary btn-small copy-apply", type: "button" }, "Copy");
    apply.addEventListener("click", () => {
      const targets = boxes.map((label) => label.querySelector("input")).filter((b) => b.checked).map((b) => Number(b.value));
      if (targets.length === 0) {
        say("info", `Tick the days to copy ${name}'s hours to.`);
        return;
      }
      for (const t of targets) {
        this.days[t] = { windows: copyRanges(this.days[d].windows), breaks: copyRanges(this.days[d].breaks) };
        this.rerenderDay(t);
      }
      details.open = false;
      this.rerenderDay(d, "details.copy summary");
      this.onChange();
      say("info", `Copied ${name}'s hours to ${targets.map((t) => DAY_NAMES[t]).join(", ")}. Not saved yet.`);
    });
    details.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && details.open) {
        details.open = false;
        details.querySelector("summary").focus();
      }
    });
    details.append(
      el("summary", { class: "btn btn-small" }, "Copy ", el("span", { class: "visually-hidden" }, `${name}'s hours `), "to…"),
      el("div", { class: "copy-menu", role: "group", "aria-label": `Copy ${name}'s hours to` },
        el("div", { class: "copy-days" }, boxes),
        el("div", { class: "row" }, weekdays, all, apply)));
    return details;
  }
}

// An open "Copy to…" picker closes when the click lands elsewhere.
document.addEventListener("click", (event) => {
  for (const open of document.querySelectorAll("details.copy[open]")) {
    if (!open.contains(event.target)) open.open = false;
  }
});

/** The date overrides: a day off (no windows) or special hours for one date. */
export class OverridesEditor {
  constructor(list, form, weekly, onChange) {
    this.list = list;
    this.form = form;
    this.weekly = weekly;
    this.onChange = onChange;
    this.items = [];
    this.today = "";
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.add();
    });
    form.date.addEventListener("input", () => this.dateError(""));
  }

  load(overrides, today) {
    this.today = today;
    this.form.date.min = addDays(today, -365);
    this.items = overrides.map((o) => ({
      date: o.date,
      windows: o.windows.map((w) => ({ start: w.start_time, end: inputEnd(w.end_time) })),
    }));
    this.sort();
    this.render();
  }

  sort() {
    this.items.sort((a, b) => a.date.localeCompare(b.date));
  }

  body() {
    return this.items.map((o) => ({
      date: o.date,
      windows: o.windows.map((w) => ({ start_time: w.start, end_time: apiEnd(w.end) })),
    }));
  }

  problems() {
    return this.items.flatMap((o) => o.windows).filter((r) => rangeProblem(r.start, r.end)).length;
  }

  dateError(text) {
    const error = this.form.querySelector("#override-date-error");
    error.textContent = text;
    this.form.date.setAttribute("aria-invalid", text ? "true" : "false");
  }

  add() {
    const date = this.form.date.value;
    if (!date) {
      this.dateError("Choose a date.");
      this.form.date.focus();
      return;
    }
    if (this.items.some((o) => o.date === date)) {
      this.dateError(`${longDate(date)} already has an override: change it in the list above.`);
      this.form.date.focus();
      return;
    }
    this.dateError("");
    const kind = this.form.querySelector("input[name=kind]:checked").value;
    let windows = [];
    if (kind === "hours") {
      const [y, m, d] = date.split("-").map(Number);
      windows = this.weekly.windowsOf(new Date(Date.UTC(y, m - 1, d)).getUTCDay());
      if (windows.length === 0) windows = [{ start: "09:00", end: "17:00" }];
    }
    this.items.push({ date, windows });
    this.sort();
    this.render(date);
    this.form.date.value = "";
    this.onChange();
    say("info", `${longDate(date)}: ${windows.length ? "special hours" : "day off"} added. Not saved yet.`);
  }

  render(focusDate) {
    if (this.items.length === 0) {
      this.list.replaceChildren(el("li", { class: "muted small empty" }, "No overrides. Your weekly hours apply every date."));
      return;
    }
    this.list.replaceChildren(...this.items.map((o) => this.item(o)));
    if (focusDate) {
      const target = this.list.querySelector(`[data-date="${focusDate}"] .override-title`);
      if (target) target.focus();
    }
  }

  item(o) {
    const title = longDate(o.date);
    const past = this.today && o.date < this.today;
    const rerender = (focus) => {
      const fresh = this.item(o);
      this.list.querySelector(`[data-date="${o.date}"]`).replaceWith(fresh);
      if (focus) {
        const target = fresh.querySelector(focus);
        if (target) target.focus();
      }
    };
    const remove = el("button", { class: "btn btn-link remove-override", type: "button", "aria-label": `Remove the override of ${title}` }, "Remove");
    remove.addEventListener("click", () => {
      const i = this.items.indexOf(o);
      this.items.splice(i, 1);
      this.render();
      this.onChange();
      const next = this.list.querySelectorAll(".override-title")[Math.min(i, this.items.length - 1)];
      (next || this.form.date).focus();
    });
    const addHours = el("button", { class: "btn btn-small add-override-window", type: "button" },
      o.windows.length ? "+ Hours" : "Work special hours instead", el("span", { class: "visually-hidden" }, ` on ${title}`));
    addHours.addEventListener("click", () => {
      o.windows.push(o.windows.length ? { start: "", end: "" } : { start: "09:00", end: "17:00" });
      rerender(".override-window:last-of-type input.start");
      this.onChange();
    });
    const rows = o.windows.map((range, i) => rangeRow(range, {
      kind: "override-window",
      label: `${title} hours ${i + 1}`,
      onInput: () => this.onChange(),
      onRemove: () => {
        o.windows.splice(i, 1);
        rerender(".add-override-window");
        this.onChange();
      },
    }));
    return el("li", { class: `override${past ? " is-past" : ""}`, "data-date": o.date },
      el("div", { class: "override-head" },
        el("strong", { class: "override-title", tabindex: "-1" }, title),
        el("span", { class: o.windows.length ? "badge badge-ok" : "badge badge-warn" }, o.windows.length ? "Special hours" : "Day off"),
        past ? el("span", { class: "badge" }, "Past") : null,
        remove),
      o.windows.length ? el("ul", { class: "ranges" }, rows) : null,
      el("div", { class: "day-actions" }, addHours));
  }
}

// The expert's named schedules (/experts/{id}/schedules): the list (default marked), a new one
// (empty or a copy of another, copied here with GET + POST), the selected one's name, zone, weekly
// hours and date overrides (the manage page's editors), make default, delete; the seasons (which
// schedule applies from one date to another, saved all at once); and a preview of one week's
// bookable times as clients see them (GET .../slots), refreshed after every save.
import { api, el, mountTopbar, requireSession } from "/assets/api.js";
import { OverridesEditor, WeeklyEditor } from "/assets/manage-hours.js";
import { addDays, clock, explain, localParts, nextId, say, shortDate, weekday } from "/assets/manage-util.js";
import { fillZoneSelect, rfc3339, startOfDay, zoneName } from "/assets/time.js";

const expertId = decodeURIComponent(location.pathname.split("/")[2] || "");
const base = `/api/v1/experts/${encodeURIComponent(expertId)}`;
const $ = (id) => document.getElementById(id);
const enc = encodeURIComponent;

const state = {
  expert: null,
  zone: "UTC",
  schedules: [],
  selected: null, // the id of the schedule in the editor
  saved: "", // the editor's body as last loaded or saved
  periods: [], // the seasons being edited
  savedPeriods: "[]", // the seasons as the server has them
};

const weekly = new WeeklyEditor($("days"), scheduleChanged);
const overrides = new OverridesEditor($("overrides"), $("add-override"), weekly, scheduleChanged);

const today = () => localParts(new Date(), state.zone).date;
const current = () => state.schedules.find((s) => s.id === state.selected) || null;
const nameOf = (id) => (state.schedules.find((s) => s.id === id) || { name: "a deleted schedule" }).name;
const savedPeriods = () => JSON.parse(state.savedPeriods);
const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** Only the fields the API takes, so a copy or a save sends exactly a schedule's content. */
const cleanRules = (rules) => (rules || []).map((r) => ({
  day_of_week: r.day_of_week, start_time: r.start_time, end_time: r.end_time, is_available: r.is_available,
}));
const cleanOverrides = (list) => (list || []).map((o) => ({
  date: o.date, windows: (o.windows || []).map((w) => ({ start_time: w.start_time, end_time: w.end_time })),
}));

// ---- The list of schedules

function summary(s) {
  const days = new Set(s.rules.filter((r) => r.is_available).map((r) => r.day_of_week)).size;
  const seasons = savedPeriods().filter((p) => p.schedule_id === s.id).length;
  const parts = [days ? `${plural(days, "day")} a week` : "No hours"];
  if (s.is_default) parts.push("applies outside the seasons");
  else parts.push(seasons ? `in ${plural(seasons, "season")}` : "in no season yet");
  if (s.timezone !== state.zone) parts.push(zoneName(s.timezone));
  return parts.join(" · ");
}

function renderList() {
  $("schedule-list").replaceChildren(...state.schedules.map((s) => el("li", { "data-schedule-id": s.id },
    el("button", {
      class: "schedule-pick", type: "button", "aria-current": s.id === state.selected ? "true" : null,
      onclick: () => pick(s.id),
    },
    el("span", { class: "name" }, s.name),
    s.is_default ? el("span", { class: "badge badge-ok" }, "Default") : null,
    el("span", { class: "meta muted small" }, summary(s))))));
  fillScheduleSelect($("new-schedule-from"), [["", "Empty: no hours"], ...state.schedules.map((s) => [s.id, `A copy of “${s.name}”`])]);
  fillScheduleSelect($("period-schedule"), state.schedules.filter((s) => !s.is_default).concat(state.schedules.filter((s) => s.is_default))
    .map((s) => [s.id, s.is_default ? `${s.name} (default)` : s.name]));
  renderPeriods();
}

/** Fills a select with [value, text] pairs, keeping its choice when it is still there. */
function fillScheduleSelect(select, options) {
  const keep = select.value;
  select.replaceChildren(...options.map(([value, text]) => el("option", { value }, text)));
  if (options.some(([value]) => value === keep)) select.value = keep;
}

async function loadSchedules() {
  const answer = await api("GET", `${base}/schedules`);
  state.schedules = answer.schedules || [];
}

function pick(id, force = false) {
  const open = current();
  if (!force && open && id !== open.id && dirty()) {
    say("warn", `“${open.name}” has unsaved changes.`, { label: "Discard them and switch", run: () => pick(id, true) });
    return;
  }
  state.selected = id;
  loadEditor();
  renderList();
}

// ---- The editor of the selected schedule

function editorBody() {
  return {
    name: $("schedule-name").value.trim(),
    timezone: $("schedule-timezone").value,
    rules: weekly.rules(),
    overrides: overrides.body(),
  };
}

const dirty = () => Boolean(current()) && JSON.stringify(editorBody()) !== state.saved;

function loadEditor() {
  const s = current();
  $("editor-card").hidden = !s;
  $("confirm-delete").hidden = true;
  if (!s) return;
  $("schedule-name").value = s.name;
  nameError("");
  fillZoneSelect($("schedule-timezone"), s.timezone);
  weekly.load(s.rules);
  overrides.load(s.overrides || [], today());
  $("override-date").value = "";
  state.saved = JSON.stringify(editorBody());
  editorHead();
  scheduleChanged();
}

function editorHead() {
  const s = current();
  const seasons = savedPeriods().filter((p) => p.schedule_id === s.id).length;
  $("editor-title").textContent = `“${s.name}”${s.is_default ? " (default)" : ""}`;
  $("editor-sub").textContent = s.is_default
    ? "Your default schedule: it applies on every date no season names another, and it is the one the availability manager edits."
    : seasons ? `Used in ${plural(seasons, "season")} (see Seasons below).` : "Not used yet: give it a season below to put it to work.";
  $("make-default").hidden = s.is_default;
}

function scheduleChanged() {
  if (!current()) return;
  const isDirty = dirty();
  const problems = weekly.problems() + overrides.problems();
  $("schedule-state").textContent = isDirty
    ? `Unsaved changes${problems ? ` · ${plural(problems, "time range")} to fix` : ""}` : "All changes saved";
  $("discard-schedule").hidden = !isDirty;
  $("editor-card").classList.toggle("is-dirty", isDirty);
}

function nameError(text) {
  $("schedule-name-error").textContent = text;
  $("schedule-name").setAttribute("aria-invalid", text ? "true" : "false");
}

$("schedule-name").addEventListener("input", () => {
  nameError("");
  scheduleChanged();
});
$("schedule-timezone").addEventListener("change", scheduleChanged);

async function saveSchedule() {
  const s = current();
  const body = editorBody();
  if (!body.name) {
    nameError("Enter a name.");
    $("schedule-name").focus();
    return;
  }
  const problems = weekly.problems() + overrides.problems();
  if (problems) {
    say("error", `Not saved: ${plural(problems, "time range")} to fix, marked in red.`);
    const bad = document.querySelector("#days [aria-invalid=true], #overrides [aria-invalid=true]");
    if (bad) bad.focus();
    return;
  }
  const button = $("save-schedule");
  button.disabled = true;
  button.textContent = "Saving…";
  try {
    const answer = await api("PUT", `${base}/schedules/${enc(s.id)}`, { ...body, is_default: s.is_default });
    Object.assign(s, answer || body);
    loadEditor();
    renderList();
    say("ok", `Saved “${s.name}”. The preview shows it.`);
    refreshPreview();
  } catch (e) {
    if (e.status === 422 && /name/i.test(e.message)) nameError(e.message);
    say("error", e.status === 422 || e.status === 409
      ? `Not saved: ${e.message}. Your changes are still here: correct them and save again.`
      : `${explain(e, "Saving the schedule")} Your changes are still here.`,
    e.status === 0 || e.status >= 500 ? { label: "Retry", run: saveSchedule } : undefined);
  } finally {
    button.disabled = false;
    button.textContent = "Save schedule";
    scheduleChanged();
  }
}

$("save-schedule").addEventListener("click", saveSchedule);
$("discard-schedule").addEventListener("click", () => {
  loadEditor();
  say("info", "Changes discarded: back to the saved schedule.");
  $("save-schedule").focus();
});

$("make-default").addEventListener("click", async () => {
  const s = current();
  if (dirty()) {
    say("warn", `Save or discard your changes to “${s.name}” first, then make it the default.`);
    return;
  }
  const button = $("make-default");
  button.disabled = true;
  try {
    await api("PUT", `${base}/schedules/${enc(s.id)}`, {
      name: s.name, timezone: s.timezone, rules: cleanRules(s.rules), overrides: cleanOverrides(s.overrides), is_default: true,
    });
    await loadSchedules();
    loadEditor();
    renderList();
    say("ok", `“${s.name}” is now your default schedule: it applies on every date no season names another.`);
    refreshPreview();
  } catch (e) {
    say("error", e.status === 409 || e.status === 422 ? `Not changed: ${e.message}.` : explain(e, "Making it the default"));
  } finally {
    button.disabled = false;
  }
});

// Deleting: the default one is refused by the server (409), and its word is shown; any other is
// asked about first, since its seasons go with it.
$("delete-schedule").addEventListener("click", () => {
  const s = current();
  if (s.is_default) {
    deleteSchedule();
    return;
  }
  const seasons = savedPeriods().filter((p) => p.schedule_id === s.id).length;
  $("confirm-delete-text").textContent = `Delete “${s.name}”${seasons ? ` and its ${plural(seasons, "season")}` : ""}? This cannot be undone.`;
  $("confirm-delete").hidden = false;
  $("confirm-delete-no").focus();
});
$("confirm-delete-no").addEventListener("click", () => {
  $("confirm-delete").hidden = true;
  $("delete-schedule").focus();
});
$("confirm-delete-yes").addEventListener("click", deleteSchedule);

async function deleteSchedule() {
  const s = current();
  const seasons = savedPeriods().filter((p) => p.schedule_id === s.id).length;
  $("confirm-delete").hidden = true;
  try {
    await api("DELETE", `${base}/schedules/${enc(s.id)}`);
  } catch (e) {
    say("error", e.status === 409 ? `Not deleted: ${e.message}` : explain(e, `Deleting “${s.name}”`));
    $("delete-schedule").focus();
    return;
  }
  try {
    await loadSchedules();
    const periods = await api("GET", `${base}/schedule-periods`);
    const keepEdits = periodsDirty();
    state.savedPeriods = JSON.stringify(periods.periods || []);
    state.periods = keepEdits ? state.periods.filter((p) => p.schedule_id !== s.id) : savedPeriods();
    const fallback = state.schedules.find((x) => x.is_default) || state.schedules[0];
    state.selected = fallback ? fallback.id : null;
    loadEditor();
    renderList();
    say("ok", `Deleted “${s.name}”${seasons ? ` and its ${plural(seasons, "season")}` : ""}.`);
    $("schedules-title").focus();
  } catch (e) {
    say("error", explain(e, "Loading your schedules again"), { label: "Reload", run: () => location.reload() });
  }
  refreshPreview();
}

// ---- A new schedule

function newError(text) {
  $("new-schedule-error").textContent = text;
  $("new-schedule-name").setAttribute("aria-invalid", text ? "true" : "false");
}

$("new-schedule-name").addEventListener("input", () => newError(""));
$("new-schedule").addEventListener("submit", async (event) => {
  event.preventDefault();
  const name = $("new-schedule-name").value.trim();
  if (!name) {
    newError("Enter a name for the new schedule, such as Summer.");
    $("new-schedule-name").focus();
    return;
  }
  if (state.schedules.some((s) => s.name.toLowerCase() === name.toLowerCase())) {
    newError(`You already have a schedule named “${name}”.`);
    $("new-schedule-name").focus();
    return;
  }
  const open = current();
  if (open && dirty()) {
    say("warn", `Save or discard your changes to “${open.name}” first: the new schedule opens in the editor.`);
    return;
  }
  const from = $("new-schedule-from").value;
  const button = $("create-schedule");
  button.disabled = true;
  try {
    let body = { name, rules: [], overrides: [] };
    let source = null;
    if (from) {
      source = await api("GET", `${base}/schedules/${enc(from)}`);
      body = { name, timezone: source.timezone, rules: cleanRules(source.rules), overrides: cleanOverrides(source.overrides) };
    }
    const made = await api("POST", `${base}/schedules`, body);
    state.schedules.push(made);
    $("new-schedule-name").value = "";
    $("new-schedule-from").value = "";
    pick(made.id, true);
    say("ok", `Created “${made.name}”${source ? ` as a copy of “${source.name}”` : ""}. Set its hours and save, then give it a season.`);
    $("editor-title").focus();
  } catch (e) {
    const text = e.status === 422 || e.status === 409 ? `Not created: ${e.message}.` : explain(e, "Creating the schedule");
    newError(text);
    say("error", text);
  } finally {
    button.disabled = false;
  }
});

// ---- Seasons (schedule periods)

const periodsDirty = () => JSON.stringify(state.periods) !== state.savedPeriods;

function periodsChanged() {
  $("periods-state").textContent = periodsDirty() ? "Unsaved changes: the preview shows the saved seasons." : "";
  $("periods-error").textContent = "";
}

function renderPeriods() {
  const list = $("periods");
  if (state.periods.length === 0) {
    list.replaceChildren(el("li", { class: "muted small empty" }, "No seasons: your default schedule applies on every date."));
  } else {
    list.replaceChildren(...state.periods.map((p) => periodRow(p)));
  }
  periodsChanged();
}

function periodRow(p) {
  const ids = { schedule: nextId("season"), from: nextId("season"), to: nextId("season") };
  const options = state.schedules.map((s) => el("option", { value: s.id }, s.is_default ? `${s.name} (default)` : s.name));
  if (!state.schedules.some((s) => s.id === p.schedule_id)) options.push(el("option", { value: p.schedule_id }, "A deleted schedule"));
  const select = el("select", { id: ids.schedule, class: "season-schedule" }, options);
  select.value = p.schedule_id;
  select.addEventListener("change", () => {
    p.schedule_id = select.value;
    periodsChanged();
  });
  const date = (id, key, cls) => {
    const input = el("input", { id, type: "date", class: cls, value: p[key] });
    input.addEventListener("input", () => {
      p[key] = input.value;
      periodsChanged();
    });
    return input;
  };
  const remove = el("button", {
    class: "btn btn-link remove-period", type: "button",
    "aria-label": `Remove the season of ${nameOf(p.schedule_id)} from ${p.from_date} to ${p.to_date}`,
  }, "Remove");
  remove.addEventListener("click", () => {
    state.periods.splice(state.periods.indexOf(p), 1);
    renderPeriods();
    $("period-schedule").focus();
  });
  return el("li", { class: "period", "data-from": p.from_date },
    el("div", { class: "field" }, el("label", { for: ids.schedule }, "Schedule"), select),
    el("div", { class: "field" }, el("label", { for: ids.from }, "From"), date(ids.from, "from_date", "season-from")),
    el("div", { class: "field" }, el("label", { for: ids.to }, "To"), date(ids.to, "to_date", "season-to")),
    remove);
}

function periodError(text) {
  $("period-error").textContent = text;
  for (const id of ["period-from", "period-to"]) $(id).setAttribute("aria-invalid", text ? "true" : "false");
}

$("period-from").addEventListener("input", () => {
  periodError("");
  $("period-to").min = $("period-from").value;
});
$("period-to").addEventListener("input", () => periodError(""));

$("add-period-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const p = { schedule_id: $("period-schedule").value, from_date: $("period-from").value, to_date: $("period-to").value };
  if (!p.schedule_id) {
    periodError("Create a schedule first.");
    return;
  }
  if (!p.from_date || !p.to_date) {
    periodError("Choose the first and the last date of the season.");
    $(p.from_date ? "period-to" : "period-from").focus();
    return;
  }
  if (p.to_date < p.from_date) {
    periodError("The last date must be on or after the first.");
    $("period-to").focus();
    return;
  }
  periodError("");
  state.periods.push(p);
  state.periods.sort((a, b) => a.from_date.localeCompare(b.from_date));
  renderPeriods();
  $("period-from").value = "";
  $("period-to").value = "";
  say("info", `Season of “${nameOf(p.schedule_id)}” added. Not saved yet: press “Save seasons”.`);
});

async function savePeriods() {
  const button = $("save-periods");
  button.disabled = true;
  $("periods-error").textContent = "";
  try {
    const answer = await api("PUT", `${base}/schedule-periods`, { periods: state.periods });
    state.savedPeriods = JSON.stringify((answer && answer.periods) || state.periods);
    state.periods = savedPeriods();
    renderList();
    if (current()) editorHead();
    say("ok", `Saved your seasons (${plural(state.periods.length, "season")}). The preview follows them.`);
    refreshPreview();
  } catch (e) {
    const text = e.status === 422 ? `Not saved: ${e.message}` : explain(e, "Saving the seasons");
    $("periods-error").textContent = text;
    say("error", `${text}${/[.!?]$/.test(text) ? "" : "."} Your seasons are still here: correct them and save again.`,
      e.status === 0 || e.status >= 500 ? { label: "Retry", run: savePeriods } : undefined);
  } finally {
    button.disabled = false;
  }
}

$("save-periods").addEventListener("click", savePeriods);

// ---- Preview: one week (Monday to Sunday, in the expert's zone) as clients see it

let previewSeq = 0;
const mondayOf = (date) => addDays(date, -((weekday(date) + 6) % 7));

/** The saved schedule that applies on a date: a season's, else the default. */
function scheduleOn(date) {
  const season = savedPeriods().find((p) => p.from_date <= date && date <= p.to_date);
  if (season) return nameOf(season.schedule_id);
  const fallback = state.schedules.find((s) => s.is_default);
  return fallback ? fallback.name : "";
}

function previewMessage(kind, text, action) {
  const parts = [el("p", {}, text)];
  if (action) parts.push(el("button", { class: "btn btn-small", type: "button", onclick: action.run }, action.label));
  $("preview").replaceChildren(el("div", { class: `alert alert-${kind}` }, ...parts));
}

async function refreshPreview() {
  const seq = ++previewSeq;
  const input = $("preview-week");
  if (!/^\d{4}-\d\d-\d\d$/.test(input.value)) input.value = mondayOf(today());
  const monday = mondayOf(input.value);
  if (input.value !== monday) input.value = monday;
  const zone = state.zone;
  const dates = [0, 1, 2, 3, 4, 5, 6].map((i) => addDays(monday, i));
  const from = rfc3339(startOfDay(monday, zone));
  const to = rfc3339(startOfDay(addDays(monday, 7), zone));
  const preview = $("preview");
  preview.setAttribute("aria-busy", "true");
  let answer;
  try {
    answer = await api("GET", `${base}/slots?from=${enc(from)}&to=${enc(to)}`);
  } catch (e) {
    if (seq !== previewSeq) return;
    preview.setAttribute("aria-busy", "false");
    previewMessage("error", explain(e, "The preview"), { label: "Retry", run: refreshPreview });
    return;
  }
  if (seq !== previewSeq) return;
  const byDate = new Map(dates.map((d) => [d, []]));
  for (const slot of answer.slots || []) {
    const list = byDate.get(localParts(new Date(slot.start), zone).date);
    if (list) list.push(slot);
  }
  let count = 0;
  preview.replaceChildren(...dates.map((date) => {
    const slots = byDate.get(date);
    count += slots.length;
    const schedule = scheduleOn(date);
    return el("section", { class: "pday", "data-date": date },
      el("h3", {}, shortDate(date),
        schedule ? el("span", { class: "badge" }, schedule) : null,
        el("span", { class: "pcount muted small" }, slots.length ? `${slots.length}` : "")),
      slots.length
        ? el("ul", { class: "slots" }, slots.map((s) => el("li", {
          class: "slot", "data-start": s.start, title: `${clock(new Date(s.start), zone)}–${clock(new Date(s.end), zone)}`,
        }, clock(new Date(s.start), zone))))
        : el("p", { class: "muted small none" }, "No bookable times"));
  }));
  preview.setAttribute("aria-busy", "false");
  const notes = [`${plural(count, "bookable time")}${answer.duration_minutes ? ` of ${answer.duration_minutes} min` : ""} from ${shortDate(monday)} to ${shortDate(dates[6])}, in ${zoneName(zone)} time.`];
  const horizon = state.expert.booking_policy && state.expert.booking_policy.booking_horizon_days;
  if (horizon && dates[6] > addDays(today(), horizon)) {
    notes.push(`Clients can book up to ${horizon} days ahead (your booking rules), so times after ${shortDate(addDays(today(), horizon))} are not offered yet.`);
  }
  if (dates[6] < today()) notes.push("This week is over.");
  if (periodsDirty()) notes.push("Unsaved seasons are not in it yet.");
  $("preview-status").textContent = notes.join(" ");
}

$("preview-week").addEventListener("change", refreshPreview);

window.addEventListener("beforeunload", (event) => {
  if (dirty() || periodsDirty()) event.preventDefault();
});

// ---- Page

function fatal(title, text, action) {
  $("expert-name").textContent = title;
  $("expert-sub").textContent = text;
  $("content").hidden = true;
  say("error", text, action);
}

async function start() {
  const session = await requireSession();
  mountTopbar(session, (e) => say("error", explain(e, "Signing out")));
  if (session.role === "client") {
    fatal("Not your page", "This page is for experts managing their schedules. You are signed in as a client.");
    return;
  }
  let periods;
  try {
    [state.expert, , periods] = await Promise.all([
      api("GET", base), loadSchedules(), api("GET", `${base}/schedule-periods`),
    ]);
  } catch (e) {
    const own = session.role === "expert" && session.expert_id && session.expert_id !== expertId
      ? { label: "Open your own page", run: () => location.assign(`/experts/${session.expert_id}/schedules`) } : undefined;
    if (e.status === 403) fatal("Not your page", "You can only manage your own schedules: this page belongs to another expert.", own);
    else if (e.status === 404 || e.status === 400) fatal("Not found", `There is no expert with the id “${expertId}”, or this server has no schedules yet.`, own);
    else fatal("Could not load the page", explain(e, "Loading your schedules"), { label: "Retry", run: () => location.reload() });
    return;
  }
  state.zone = state.expert.timezone || "UTC";
  $("expert-sub").textContent = `${state.expert.name} · dates and times in ${zoneName(state.zone)}`
    + (session.role === "admin" ? " · you are managing this expert as an admin" : "");
  document.title = `${state.expert.name} · Schedules`;
  state.savedPeriods = JSON.stringify((periods && periods.periods) || []);
  state.periods = savedPeriods();
  const fallback = state.schedules.find((s) => s.is_default) || state.schedules[0];
  state.selected = fallback ? fallback.id : null;
  $("content").hidden = false;
  loadEditor();
  renderList();
  $("preview-week").value = mondayOf(today());
  await refreshPreview();
  document.body.dataset.ready = "true";
}

start().catch((e) => say("error", explain(e, "Opening the page"), { label: "Retry", run: () => location.reload() }));

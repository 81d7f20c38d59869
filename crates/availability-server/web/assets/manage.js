// The expert's availability manager (/experts/{id}/manage): time zone, weekly hours and breaks,
// date overrides, booking rules, a live preview of the next 7 days with the unsaved values, and
// where the free time comes from (the calendar in use, its state; connections are on the calendars
// page). Everything comes from and goes to the JSON API with the session cookie.
import { api, el, mountTopbar, requireSession } from "/assets/api.js";
import { OverridesEditor, WeeklyEditor } from "/assets/manage-hours.js";
import {
  addDays, clock, explain, factList, liveUpdates, localParts, say, shortDate, statusBadge,
} from "/assets/manage-util.js";

const expertId = decodeURIComponent(location.pathname.split("/")[2] || "");
const base = `/api/v1/experts/${encodeURIComponent(expertId)}`;
const $ = (id) => document.getElementById(id);

const POLICY_FIELDS = [
  { name: "slot_duration_minutes", label: "Appointment length", unit: "min", min: 5, max: 1440, hint: "5 to 1440 minutes." },
  { name: "slot_interval_minutes", label: "Start times every", unit: "min", min: 5, max: 1440, hint: "5 to 1440 minutes. The same as the length gives back-to-back appointments." },
  { name: "buffer_before_minutes", label: "Free before each appointment", unit: "min", min: 0, max: 1440, hint: "0 to 1440 minutes." },
  { name: "buffer_after_minutes", label: "Free after each appointment", unit: "min", min: 0, max: 1440, hint: "0 to 1440 minutes." },
  { name: "minimum_notice_minutes", label: "Minimum notice", unit: "min", min: 0, max: 525600, hint: "How long before its start a time can still be booked. 0 to 525600 minutes (1440 = a day)." },
  { name: "booking_horizon_days", label: "Bookable up to", unit: "days ahead", min: 1, max: 730, hint: "1 to 730 days." },
  // Optional: empty is off (no limit, no series).
  { name: "max_bookings_per_day", label: "At most per day", unit: "bookings", min: 1, max: 1000, optional: true, hint: "Empty: no limit." },
  { name: "max_bookings_per_week", label: "At most per week", unit: "bookings", min: 1, max: 1000, optional: true, hint: "Monday to Sunday." },
  { name: "max_bookings_per_month", label: "At most per month", unit: "bookings", min: 1, max: 1000, optional: true, hint: "A calendar month." },
  { name: "max_booked_minutes_per_day", label: "Booked time per day at most", unit: "min", min: 1, max: 1440, optional: true, hint: "Empty: no limit." },
  { name: "max_series_occurrences", label: "Weekly series up to", unit: "times", min: 0, max: 52, optional: true, hint: "Empty: clients book once." },
];

const tz = $("timezone");
const preview = $("preview");
const previewStatus = $("preview-status");
const policyForm = $("policy");

let expert = null;
let savedAvailability = "";
let savedPolicy = "";
let lastCount = null;
const weekly = new WeeklyEditor($("days"), changed);
const overrides = new OverridesEditor($("overrides"), $("add-override"), weekly, changed);
// GET /api/v1/providers and the expert's integrations, for the calendar in use.
const sources = { providers: [], list: [] };
const provider = (type) => sources.providers.find((p) => p.integration_type === type);
const sourceName = (type) => (provider(type) || { display_name: type }).display_name;
const calendarsLink = (type) => `calendars#panel-${encodeURIComponent(type)}`;

// ---- State: what the editors hold, and whether it differs from what is saved

function availabilityBody() {
  return { timezone: tz.value, rules: weekly.rules(), overrides: overrides.body() };
}

const availabilityDirty = () => JSON.stringify(availabilityBody()) !== savedAvailability;

function changed() {
  saveBar();
  schedulePreview();
}

/** The save bar: saved or not, what to fix, and how many times the preview shows. */
function saveBar() {
  const dirty = availabilityDirty();
  $("savebar").classList.toggle("is-dirty", dirty);
  $("discard-availability").hidden = !dirty;
  const problems = weekly.problems() + overrides.problems();
  const parts = [el("strong", {}, dirty ? "Unsaved changes" : "All changes saved")];
  if (problems) parts.push(el("span", { class: "savebar-count savebar-problems" }, `${problems} time range${problems > 1 ? "s" : ""} to fix`));
  if (lastCount !== null) parts.push(el("span", { class: "savebar-count" }, `${lastCount} bookable time${lastCount === 1 ? "" : "s"} in the next 7 days`));
  $("dirty-state").replaceChildren(...parts);
}

// ---- Time zone

function fillZones(current) {
  let zones = [];
  try {
    zones = Intl.supportedValuesOf("timeZone");
  } catch {
    zones = ["UTC"];
  }
  if (!zones.includes(current)) zones = [current, ...zones];
  if (!zones.includes("UTC")) zones.push("UTC");
  const now = new Date();
  tz.replaceChildren(...zones.map((zone) => {
    let offset = "";
    try {
      offset = new Intl.DateTimeFormat("en", { timeZone: zone, timeZoneName: "shortOffset" })
        .formatToParts(now).find((p) => p.type === "timeZoneName").value;
    } catch {
      offset = "";
    }
    return el("option", { value: zone, selected: zone === current }, `${zone.replaceAll("_", " ")}${offset ? ` (${offset})` : ""}`);
  }));
  tz.value = current;
  tz.disabled = false;
}

function showNow() {
  const now = new Date();
  const local = localParts(now, tz.value);
  $("tz-now").textContent = `Now ${clock(now, tz.value)} on ${shortDate(local.date)} there.`;
}

tz.addEventListener("change", () => {
  showNow();
  changed();
});

// ---- Booking policy

function policyInputs() {
  $("policy-fields").replaceChildren(...POLICY_FIELDS.map((f) => {
    const id = `policy-${f.name}`;
    const input = el("input", {
      id, name: f.name, type: "number", inputmode: "numeric", min: f.min, max: f.max, step: 1, required: !f.optional,
      "aria-describedby": `${id}-hint ${id}-error`, class: "number",
    });
    input.addEventListener("input", () => {
      checkPolicyField(f, input);
      policyChanged();
    });
    return el("div", { class: "field" },
      el("label", { for: id }, f.label),
      el("div", { class: "with-unit" }, input, el("span", { class: "unit", "aria-hidden": "true" }, f.unit)),
      el("p", { class: "hint small", id: `${id}-hint` }, f.hint, el("span", { class: "human" })),
      el("p", { class: "field-error", id: `${id}-error` }));
  }));
}

function human(minutes) {
  if (!Number.isFinite(minutes) || minutes < 60) return "";
  const d = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = minutes % 60;
  return ` Now: ${[d && `${d} day${d > 1 ? "s" : ""}`, h && `${h} h`, m && `${m} min`].filter(Boolean).join(" ")}.`;
}

function checkPolicyField(f, input) {
  const text = input.value.trim();
  const value = Number(text);
  let problem = "";
  if (text === "") problem = f.optional ? "" : "Enter a number.";
  else if (!Number.isInteger(value)) problem = "Enter a whole number.";
  else if (value < f.min || value > f.max) problem = `Between ${f.min} and ${f.max}.`;
  $(`${input.id}-error`).textContent = problem;
  input.setAttribute("aria-invalid", String(Boolean(problem)));
  if (f.unit === "min") input.parentElement.parentElement.querySelector(".human").textContent = problem || text === "" ? "" : human(value);
  return !problem;
}

/** The video choice: the room link is asked for (and checked) only with "my own room". */
function checkVideo() {
  const video = policyForm.elements.video.value;
  const url = policyForm.elements.video_url;
  $("policy-video-url-field").hidden = video !== "static";
  const text = url.value.trim();
  let problem = "";
  if (video === "static" && !/^https:\/\/[^\s/?#]+/i.test(text)) {
    problem = text === "" ? "Enter the link of your room." : "Enter an https:// link.";
  }
  $("policy-video_url-error").textContent = problem;
  url.setAttribute("aria-invalid", String(Boolean(problem)));
  $("policy-video-error").textContent = "";
  policyForm.elements.video.setAttribute("aria-invalid", "false");
  return !problem;
}

/**
 * The policy in the form, or null while a field is not valid. `anyRange`: whole numbers out of
 * range too, and any room link (a save sends them, and the server's answer is the word that
 * counts). The video fields are part of it, so saving the booking rules keeps them.
 */
function policyValues(anyRange = false) {
  const out = {};
  for (const f of POLICY_FIELDS) {
    const input = policyForm.elements[f.name];
    const value = Number(input.value);
    if (f.optional && input.value.trim() === "") continue;
    if (input.value.trim() === "" || !Number.isInteger(value)) return null;
    if (!anyRange && (value < f.min || value > f.max)) return null;
    out[f.name] = value;
  }
  const video = policyForm.elements.video.value;
  if (video !== "none") out.video = video;
  if (video === "static") {
    if (!anyRange && !checkVideo()) return null;
    out.video_url = policyForm.elements.video_url.value.trim();
  }
  return out;
}

function loadPolicy(policy) {
  for (const f of POLICY_FIELDS) {
    const input = policyForm.elements[f.name];
    input.value = policy[f.name] ?? "";
    checkPolicyField(f, input);
  }
  policyForm.elements.video.value = policy.video || "none";
  policyForm.elements.video_url.value = policy.video_url || "";
  checkVideo();
  savedPolicy = JSON.stringify(policyValues());
  policyChanged();
}

policyForm.elements.video.addEventListener("change", () => {
  checkVideo();
  policyChanged();
});
policyForm.elements.video_url.addEventListener("input", () => {
  checkVideo();
  policyChanged();
});

function policyChanged() {
  const values = policyValues();
  const dirty = JSON.stringify(values) !== savedPolicy;
  $("policy-state").textContent = dirty ? (values ? "Unsaved changes" : "Fix the marked fields") : "";
  policyForm.classList.toggle("is-dirty", dirty);
  schedulePreview();
}

policyForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const values = policyValues(true);
  const save = $("save-policy");
  if (!values) {
    POLICY_FIELDS.forEach((f) => checkPolicyField(f, policyForm.elements[f.name]));
    say("error", "Not saved: every booking rule needs a whole number. Fix the marked fields and save again.");
    policyForm.querySelector("[aria-invalid=true]").focus();
    return;
  }
  save.disabled = true;
  try {
    const answer = await api("PUT", `${base}/booking-policy`, values);
    loadPolicy(answer || values);
    say("ok", "Saved your booking rules.");
  } catch (e) {
    const named = e.status === 422 && POLICY_FIELDS.find((f) => e.message.includes(f.name));
    if (e.code === "invalid_video" || e.code === "video_unsupported") {
      const field = e.code === "invalid_video" && policyForm.elements.video.value === "static" ? "video_url" : "video";
      const input = policyForm.elements[field];
      input.setAttribute("aria-invalid", "true");
      $(`${input.id}-error`).textContent = e.message;
      input.focus();
    } else if (named) {
      const input = policyForm.elements[named.name];
      input.setAttribute("aria-invalid", "true");
      if (!$(`${input.id}-error`).textContent) $(`${input.id}-error`).textContent = e.message;
      input.focus();
    }
    say("error", e.status === 422 ? `Not saved: ${e.message}. Your values are still in the form: correct them and save again.` : explain(e, "Saving your booking rules"),
      e.status === 0 ? { label: "Retry", run: () => policyForm.requestSubmit() } : undefined);
  } finally {
    save.disabled = false;
  }
});

// ---- Saving hours, breaks, overrides and the time zone (one PUT)

async function saveAvailability() {
  const button = $("save-availability");
  const body = availabilityBody();
  const problems = weekly.problems() + overrides.problems();
  button.disabled = true;
  button.textContent = "Saving…";
  try {
    await api("PUT", `${base}/availability`, body);
    savedAvailability = JSON.stringify(body);
    expert.timezone = body.timezone;
    header();
    say("ok", "Saved your hours, breaks, date overrides and time zone.");
    schedulePreview(0);
  } catch (e) {
    let text = e.status === 422
      ? `Not saved: ${e.message}. Your changes are still here: correct them and save again.`
      : `${explain(e, "Saving your hours")} Your changes are still here.`;
    if (problems) text += " The times to fix are marked in red.";
    say("error", text, e.status === 0 || e.status >= 500 ? { label: "Retry", run: saveAvailability } : undefined);
    const bad = document.querySelector("#days [aria-invalid=true], #overrides [aria-invalid=true]");
    if (bad) bad.focus();
  } finally {
    button.disabled = false;
    button.textContent = "Save hours";
    saveBar();
  }
}

$("save-availability").addEventListener("click", saveAvailability);
$("discard-availability").addEventListener("click", () => {
  const saved = JSON.parse(savedAvailability);
  tz.value = saved.timezone;
  showNow();
  weekly.load(saved.rules);
  overrides.load(saved.overrides, localParts(new Date(), saved.timezone).date);
  changed();
  say("info", "Changes discarded: back to your saved hours.");
  $("save-availability").focus();
});

window.addEventListener("beforeunload", (event) => {
  if (savedAvailability && (availabilityDirty() || policyForm.classList.contains("is-dirty"))) event.preventDefault();
});

// ---- Live preview: the next 7 days with the unsaved values

let previewTimer = 0;
let previewSeq = 0;

/** A preview after `delay` ms of quiet; the shown one counts as out of date (busy) until then. */
function schedulePreview(delay = 300) {
  if (!expert) return;
  clearTimeout(previewTimer);
  preview.setAttribute("aria-busy", "true");
  previewTimer = setTimeout(runPreview, delay);
}

const iso = (date) => date.toISOString().replace(/\.\d{3}Z$/, "Z");

function previewMessage(kind, text, action) {
  const parts = [el("p", {}, text)];
  if (action) parts.push(el("button", { class: "btn btn-small", type: "button", onclick: action.run }, action.label));
  preview.replaceChildren(el("div", { class: `alert alert-${kind}` }, ...parts));
}

async function runPreview() {
  const seq = ++previewSeq;
  const problems = weekly.problems() + overrides.problems();
  if (problems) {
    preview.setAttribute("aria-busy", "false");
    lastCount = null;
    saveBar();
    previewMessage("warn", "Fix the times marked in red to see the preview.");
    return;
  }
  const zone = tz.value;
  const now = new Date();
  const today = localParts(now, zone).date;
  const dates = [0, 1, 2, 3, 4, 5, 6].map((i) => addDays(today, i));
  const from = new Date(Math.floor(now.getTime() / 60000) * 60000);
  const to = new Date(from.getTime() + 8 * 86400000);
  const policy = policyValues();
  const body = { ...availabilityBody(), from: iso(from), to: iso(to) };
  if (policy) body.booking_policy = policy;
  preview.setAttribute("aria-busy", "true");
  let answer;
  try {
    answer = await api("POST", `${base}/availability/preview`, body);
  } catch (e) {
    if (seq !== previewSeq) return;
    preview.setAttribute("aria-busy", "false");
    lastCount = null;
    saveBar();
    const active = expert.integration_type;
    if (e.code === "needs_reauth") {
      const name = sourceName(active);
      previewMessage("warn", `${name} needs reconnecting: until then clients see no times (${e.message}).`,
        { label: `Reconnect ${name}`, run: () => location.assign(calendarsLink(active)) });
    } else if (e.status === 404 && e.code === "not_found") {
      previewMessage("info", "The live preview is not available on this server yet. Your hours can still be edited and saved.");
    } else if (e.status === 422) {
      previewMessage("warn", `No preview for these values: ${e.message}.`);
    } else {
      previewMessage("error", explain(e, "The preview"), { label: "Retry", run: () => schedulePreview(0) });
    }
    return;
  }
  if (seq !== previewSeq) return;
  preview.setAttribute("aria-busy", "false");
  renderPreview(answer, dates, zone, !policy);
}

function renderPreview(answer, dates, zone, policyLeftOut) {
  const byDate = new Map(dates.map((d) => [d, []]));
  for (const slot of answer.slots || []) {
    const list = byDate.get(localParts(new Date(slot.start), zone).date);
    if (list) list.push(slot);
  }
  const overridden = new Map(overrides.body().map((o) => [o.date, o.windows.length ? "Special hours" : "Day off"]));
  let count = 0;
  const days = dates.map((date) => {
    const slots = byDate.get(date);
    count += slots.length;
    const label = overridden.get(date);
    return el("section", { class: "pday", "data-date": date },
      el("h3", {}, shortDate(date),
        label ? el("span", { class: "badge" }, label) : null,
        el("span", { class: "pcount muted small" }, slots.length ? `${slots.length}` : "")),
      slots.length
        ? el("ul", { class: "slots" }, slots.map((s) => el("li", {
          class: "slot", "data-slot-start": s.start, title: `${clock(new Date(s.start), zone)}–${clock(new Date(s.end), zone)}`,
        }, clock(new Date(s.start), zone))))
        : el("p", { class: "muted small none" }, "No bookable times"));
  });
  preview.replaceChildren(...days);
  lastCount = count;
  const notes = [`${count} bookable time${count === 1 ? "" : "s"} of ${answer.duration_minutes} min, in ${zone.replaceAll("_", " ")} time.`];
  if (availabilityDirty() || policyForm.classList.contains("is-dirty")) notes.push("Includes your unsaved changes.");
  if (policyLeftOut) notes.push("Booking rules with errors are left out.");
  const active = provider(expert.integration_type);
  const name = sourceName(expert.integration_type);
  if (active && active.capabilities.provider_slots) notes.push(`${name} is in use: these times come from ${name}, not from the hours here.`);
  else if (active && active.capabilities.reads_busy_time) notes.push(`Busy times in ${name} are taken out.`);
  previewStatus.textContent = notes.join(" ");
  saveBar();
}

// ---- Page

function header() {
  $("expert-name").textContent = expert.name;
  $("expert-sub").textContent = `Availability manager · ${expert.email || ""}${expert.email ? " · " : ""}saved time zone ${expert.timezone.replaceAll("_", " ")}`;
  document.title = `${expert.name} · Availability manager`;
}

/** Says so above the weekly hours when the provider in use makes the slots itself. */
function providerHoursNote() {
  const active = provider(expert.integration_type);
  const name = sourceName(expert.integration_type);
  $("provider-hours-note").replaceChildren(active && active.capabilities.provider_slots
    ? el("p", { class: "alert alert-info small" }, `${name} is in use: clients book the times ${active.features.event_types ? `of your ${name} event type` : `${name} offers`}, and the hours below are not used. Choose another option on the calendars page to use them.`)
    : "");
}

function fatal(title, text, action) {
  $("expert-name").textContent = title;
  $("expert-sub").textContent = text;
  $("content").hidden = true;
  say("error", text, action);
}

/** The calendar in use: its name, status, account and live updates, with a way to change it. */
function renderSource() {
  const type = expert.integration_type;
  const p = provider(type);
  const info = sources.list.find((i) => i.type === type);
  const name = sourceName(type);
  if (!p || p.connect === "none" || !info) {
    $("source").replaceChildren(el("p", {}, el("strong", {}, name), `: clients book the free times of your hours below. Connect a calendar to block its busy times too.`));
    return;
  }
  const rows = [["Status", statusBadge(info.status)]];
  if (info.account) rows.push(["Account", info.account]);
  const live = liveUpdates(info, name);
  if (live) rows.push(live);
  $("source").replaceChildren(
    el("p", {}, el("strong", {}, name), `: ${p.description}`),
    factList(rows),
    info.status === "needs_reauth"
      ? el("p", { class: "alert alert-warn" }, `${name} stopped working: until you reconnect it, clients cannot see or book your times. `,
        el("a", { href: calendarsLink(type) }, `Reconnect ${name}`))
      : null);
}

async function loadSources() {
  try {
    [sources.providers, sources.list] = await Promise.all([
      api("GET", "/api/v1/providers").then((a) => a.providers),
      api("GET", `${base}/integrations`),
    ]);
    renderSource();
  } catch (e) {
    $("source").replaceChildren(el("p", { class: "alert alert-error" }, explain(e, "Loading your calendar connections")));
  }
}

/**
 * ?working_hours={type} (the calendars page's "Use my … working hours"): the provider's working
 * hours go into the editor unsaved: the expert reviews them, then saves.
 */
async function workingHoursFrom() {
  const type = new URLSearchParams(location.search).get("working_hours");
  if (!type) return;
  history.replaceState(null, "", location.pathname);
  const name = sourceName(type);
  let hours;
  try {
    hours = await api("GET", `${base}/integrations/${encodeURIComponent(type)}/working_hours`);
  } catch (e) {
    say("error", e.code === "working_hours_unavailable" ? `${e.message}. Type your hours below instead.` : explain(e, `Reading your ${name} working hours`));
    return;
  }
  if (hours.timezone && hours.timezone !== tz.value) {
    if (![...tz.options].some((o) => o.value === hours.timezone)) fillZones(hours.timezone);
    tz.value = hours.timezone;
    showNow();
  }
  weekly.load(hours.rules);
  changed();
  say("ok", `Your ${name} working hours are in the weekly hours below. Review them, then save.`);
  $("days").scrollIntoView({ behavior: "smooth", block: "start" });
}

async function start() {
  const session = await requireSession();
  mountTopbar(session, (e) => say("error", explain(e, "Signing out")));
  if (session.role === "client") {
    fatal("Not your page", "This page is for experts managing their availability. You are signed in as a client.");
    return;
  }
  let availability;
  try {
    [expert, availability] = await Promise.all([api("GET", base), api("GET", `${base}/availability`)]);
  } catch (e) {
    const own = session.role === "expert" && session.expert_id && session.expert_id !== expertId
      ? { label: "Open your own page", run: () => location.assign(`/experts/${session.expert_id}/manage`) } : undefined;
    if (e.status === 403) fatal("Not your page", "You can only manage your own availability: this page belongs to another expert.", own);
    else if (e.status === 404 || e.status === 400) fatal("Expert not found", `There is no expert with the id “${expertId}”.`, own);
    else fatal("Could not load the page", explain(e, "Loading your settings"), { label: "Retry", run: () => location.reload() });
    return;
  }
  header();
  if (session.role === "admin") $("expert-sub").textContent += " · you are managing this expert as an admin";
  fillZones(availability.timezone || expert.timezone);
  showNow();
  setInterval(showNow, 30000);
  const today = localParts(new Date(), tz.value).date;
  weekly.load(availability.rules);
  overrides.load(availability.overrides || [], today);
  $("override-date").value = "";
  savedAvailability = JSON.stringify(availabilityBody());
  policyInputs();
  loadPolicy(expert.booking_policy);
  providerHoursNote();
  $("content").hidden = false;
  await loadSources();
  providerHoursNote();
  changed();
  schedulePreview(0);
  await workingHoursFrom();
}

start().catch((e) => say("error", explain(e, "Opening the page"), { label: "Retry", run: () => location.reload() }));

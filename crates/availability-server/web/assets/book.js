// The client's booking page, /book/{expert_id}: a week of the expert's open times in the client's
// time zone, a confirmation, and the booking itself (with an Idempotency-Key, so a double click or
// a retry after a network error never books twice). Experts and admins see the times read-only.
import { api, el, mountTopbar, requireSession } from "/assets/api.js";
import * as T from "/assets/time.js";

const $ = (id) => document.getElementById(id);
const expertId = decodeURIComponent(location.pathname.split("/")[2] || "");
const expertPath = `/api/v1/experts/${encodeURIComponent(expertId)}`;
// ?reschedule={appointment id}: the picker moves that appointment (PATCH) instead of booking a new
// one; the old time stays booked until the new one is confirmed.
const rescheduleId = new URLSearchParams(location.search).get("reschedule");

const notice = $("notice");
const week = $("week");
const slotsBox = $("slots");
const dayTitle = $("day-title");
const zoneSelect = $("timezone");
const dialog = $("confirm");
const confirmBook = $("confirm-book");
const confirmError = $("confirm-error");

const MAX_SCAN_WEEKS = 14; // looking ahead for the first open time: at most the 93 days a query may span

const state = {
  session: null,
  expert: null,
  zone: T.chosenZone(),
  weekStart: null, // day key of the strip's first day
  selected: null, // day key whose times are listed
  userPicked: false, // the client chose a day while its week was loading: keep it
  byDay: new Map(), // day key -> slots of the shown week
  duration: null,
  loading: false,
  failed: false,
  loadSeq: 0,
  loadedAt: 0,
  canBook: false,
  pick: null, // the slot in the confirmation
  keys: new Map(), // "start|end" -> Idempotency-Key, until the server gave a definite answer
  booking: false,
  expertReady: Promise.resolve(null),
  noneAhead: false, // a look ahead found no open time up to the horizon
  moving: null, // the appointment being rescheduled
  hold: null, // {id, start, end}: the picked time, held for this client while they confirm
  holding: null, // the hold request for the picked time: resolves to the hold, {refused}, or null
  repeat: 1, // weekly occurrences to book (1: just this one), where the expert takes series
  repeatSeq: 0,
};

const confirmLabel = () => (state.moving ? "Confirm new time" : "Confirm booking");

// ---------------------------------------------------------------- notices

function say(kind, ...content) {
  notice.replaceChildren(el("div", { class: `alert alert-${kind}` }, ...content));
}

function clearNotice() {
  notice.replaceChildren();
}

const calendarDown = (e) => e && e.status === 503 && (e.code === "provider_unavailable" || e.code === "needs_reauth");
const CALENDAR_DOWN = "This expert's calendar can't be reached right now, try again in a minute.";

function signInAgainLink() {
  return el("a", { href: "/?next=" + encodeURIComponent(location.pathname) }, "Sign in again");
}

// ---------------------------------------------------------------- the week strip

function weekDays() {
  return Array.from({ length: 7 }, (_, i) => T.addDays(state.weekStart, i));
}

function countText(n) {
  return n === 0 ? "no open times" : n === 1 ? "1 open time" : `${n} open times`;
}

function renderWeek() {
  const today = T.todayKey(state.zone);
  const days = weekDays();
  $("week-label").textContent = T.dayRange(days[0], days[6]);
  $("prev-week").disabled = state.weekStart <= today;
  $("today").disabled = state.weekStart === today;
  $("next-week").disabled = horizonKey() !== null && T.addDays(state.weekStart, 7) > horizonKey();
  week.replaceChildren(
    ...days.map((key, i) => {
      const n = (state.byDay.get(key) || []).length;
      const status = state.loading ? "loading" : state.failed ? "times not loaded" : countText(n);
      const showMonth = i === 0 || key.endsWith("-01");
      const button = el(
        "button",
        {
          type: "button",
          class: "day" + (key === today ? " is-today" : "") + (state.failed ? " is-unknown" : !state.loading && n === 0 ? " is-empty" : ""),
          "data-date": key,
          "data-count": state.loading || state.failed ? undefined : n,
          "aria-pressed": String(key === state.selected),
          "aria-label": `${T.dayLong(key, false)}${key === today ? ", today" : ""}: ${status}`,
        },
        el("span", { class: "day-name" }, key === today ? "Today" : T.weekdayShort(key)),
        el("span", { class: "day-num" }, T.dayOfMonth(key)),
        el("span", { class: "day-month" }, showMonth ? T.monthShort(key) : "\u00a0"),
        el(
          "span",
          { class: "day-count" },
          state.loading ? "…" : state.failed ? "?" : n === 0 ? "–" : el("span", {}, String(n), el("span", { class: "count-word" }, n === 1 ? " time" : " times")),
        ),
      );
      button.addEventListener("click", () => selectDay(key, true));
      button.addEventListener("keydown", (event) => moveAlongWeek(event, i));
      return button;
    }),
  );
}

/** Arrow keys move between the days of the strip; Home and End go to its ends. */
function moveAlongWeek(event, index) {
  const moves = { ArrowLeft: index - 1, ArrowRight: index + 1, Home: 0, End: 6 };
  if (!(event.key in moves)) return;
  const target = week.querySelectorAll("button.day")[Math.max(0, Math.min(6, moves[event.key]))];
  if (target) {
    event.preventDefault();
    target.focus();
  }
}

/** The last day (key) that can hold a slot, from the policy's horizon; null when unknown. */
function horizonKey() {
  const days = state.expert && state.expert.booking_policy && state.expert.booking_policy.booking_horizon_days;
  if (!days) return null;
  return T.dateKey(new Date(Date.now() + days * 86400000), state.zone);
}

function selectDay(key, byUser) {
  state.selected = key;
  if (byUser && state.loading) state.userPicked = true;
  for (const b of week.querySelectorAll("button.day")) b.setAttribute("aria-pressed", String(b.dataset.date === key));
  renderSlots();
}

// ---------------------------------------------------------------- the day's times

function period(slot) {
  const hour = T.partsIn(new Date(slot.start), state.zone).hour;
  return hour < 5 ? "Night" : hour < 12 ? "Morning" : hour < 17 ? "Afternoon" : "Evening";
}

function renderSlots() {
  const key = state.selected;
  dayTitle.textContent = key ? T.dayLong(key) : "";
  if (state.loading) {
    slotsBox.replaceChildren(el("p", { class: "loading muted" }, "Loading open times…"));
    return;
  }
  if (state.failed) {
    slotsBox.replaceChildren(
      el("p", { class: "muted" }, "The open times couldn't be loaded."),
      el("button", { class: "btn", type: "button", onclick: () => loadWeek({ keepSelection: true }) }, "Try again"),
    );
    return;
  }
  const list = state.byDay.get(key) || [];
  if (list.length === 0) {
    const others = weekDays().filter((d) => (state.byDay.get(d) || []).length > 0);
    const parts = [el("p", { class: "muted" }, "No open times on this day.")];
    if (others.length) {
      parts.push(el("p", {}, "Open times this week: ", ...others.map((d, i) => [
        i ? ", " : "",
        el("button", { class: "btn btn-link", type: "button", onclick: () => selectDay(d, true) }, T.dayLong(d, false)),
      ])));
    } else if (!state.noneAhead && !$("next-week").disabled) {
      parts.push(el("button", { class: "btn", type: "button", onclick: () => findNextOpen() }, "Show the next open time"));
    }
    slotsBox.replaceChildren(...parts);
    return;
  }
  const groups = new Map();
  for (const slot of list) {
    const name = period(slot);
    if (!groups.has(name)) groups.set(name, []);
    groups.get(name).push(slot);
  }
  const id = (name) => `slots-${name.toLowerCase()}`;
  slotsBox.replaceChildren(
    ...[...groups].map(([name, slots]) =>
      el(
        "div",
        { class: "slot-group", role: "group", "aria-labelledby": id(name) },
        el("h4", { id: id(name) }, name),
        el(
          "div",
          { class: "slot-grid" },
          slots.map((slot) =>
            el(
              "button",
              {
                type: "button",
                class: "slot",
                "data-slot-start": slot.start,
                "data-slot-end": slot.end,
                "aria-disabled": state.canBook ? undefined : "true",
                "aria-label": `${T.time(slot.start, state.zone)}, ${T.dayLong(key, false)}`,
                onclick: () => openConfirm(slot),
              },
              T.time(slot.start, state.zone),
            ),
          ),
        ),
      ),
    ),
  );
}

// ---------------------------------------------------------------- loading slots

async function fetchWeek(startKey) {
  const from = new Date(Math.max(T.startOfDay(startKey, state.zone).getTime(), Date.now()));
  const to = T.startOfDay(T.addDays(startKey, 7), state.zone);
  const query = `from=${encodeURIComponent(T.rfc3339(from))}&to=${encodeURIComponent(T.rfc3339(to))}`;
  const answer = await api("GET", `${expertPath}/slots?${query}`);
  const byDay = new Map();
  for (const slot of answer.slots || []) {
    const key = T.dateKey(new Date(slot.start), state.zone);
    if (!byDay.has(key)) byDay.set(key, []);
    byDay.get(key).push(slot);
  }
  return { byDay, duration: answer.duration_minutes, total: (answer.slots || []).length };
}

function setBusy(busy) {
  state.loading = busy;
  slotsBox.setAttribute("aria-busy", busy ? "true" : "false");
}

/**
 * Loads the week starting at state.weekStart. findFirst: when that week is empty, moves on week by
 * week (up to the booking horizon) to the first with open times. keepSelection: the chosen day
 * stays chosen when it is in the week.
 */
async function loadWeek({ findFirst = false, keepSelection = false } = {}) {
  const seq = ++state.loadSeq;
  if (!keepSelection) state.userPicked = false;
  setBusy(true);
  state.failed = false;
  if (!weekDays().includes(state.selected)) state.selected = state.weekStart;
  renderWeek();
  renderSlots();
  try {
    let result = await fetchWeek(state.weekStart);
    if (seq !== state.loadSeq) return;
    if (findFirst && result.total === 0) {
      await state.expertReady;
      if (seq !== state.loadSeq) return;
      const limit = horizonKey();
      for (let i = 1; i < MAX_SCAN_WEEKS; i++) {
        const next = T.addDays(state.weekStart, 7 * i);
        if (limit && next > limit) break;
        dayTitle.textContent = "Looking for the next open time…";
        const later = await fetchWeek(next);
        if (seq !== state.loadSeq) return;
        if (later.total > 0) {
          state.weekStart = next;
          state.selected = next;
          state.userPicked = false;
          result = later;
          break;
        }
      }
    }
    state.byDay = result.byDay;
    if (result.duration) state.duration = result.duration;
    state.loadedAt = Date.now();
    const days = weekDays();
    const keep = (keepSelection || state.userPicked) && days.includes(state.selected);
    if (!keep) state.selected = days.find((d) => (state.byDay.get(d) || []).length > 0) || days[0];
    if (result.total > 0) state.noneAhead = false;
    if (findFirst && result.total === 0) {
      state.noneAhead = true;
      say("info", "This expert has no open times in the coming weeks. Check again later, or contact them.");
    }
  } catch (e) {
    if (seq !== state.loadSeq) return;
    state.failed = true;
    state.byDay = new Map();
    if (calendarDown(e)) say("warn", CALENDAR_DOWN);
    else if (e.status === 401) say("error", "Your session has ended. ", signInAgainLink(), " to see the open times.");
    else if (e.status === 404) say("error", "This booking link doesn't match any expert. Check the link you were given.");
    else say("error", e.message);
  } finally {
    if (seq === state.loadSeq) {
      setBusy(false);
      state.userPicked = false;
      renderWeek();
      renderSlots();
      renderMeta();
    }
  }
}

/** Moves to the first later week with open times (from the week after the shown one). */
async function findNextOpen() {
  clearNotice();
  state.weekStart = T.addDays(state.weekStart, 7);
  await loadWeek({ findFirst: true });
  dayTitle.focus();
}

function goToWeek(startKey) {
  const today = T.todayKey(state.zone);
  state.weekStart = startKey < today ? today : startKey;
  clearNotice();
  loadWeek();
}

// ---------------------------------------------------------------- the expert and the client

function renderMeta() {
  const expert = state.expert;
  if (!expert) return;
  const duration = state.duration || (expert.booking_policy && expert.booking_policy.slot_duration_minutes);
  const bits = [];
  if (duration) bits.push(`Appointments last ${T.duration(duration)}`);
  if (expert.timezone) bits.push(`${expert.name} is in ${T.zoneLabel(expert.timezone)}`);
  $("expert-meta").textContent = bits.join(" · ");
}

function renderZoneHint() {
  const detected = T.detectedZone();
  const button = $("use-detected");
  if (state.zone !== detected) {
    button.textContent = `Use this device's time zone (${T.zoneName(detected)})`;
    button.hidden = false;
  } else {
    button.hidden = true;
  }
}

function changeZone(zone) {
  if (!T.isZone(zone) || zone === state.zone) return;
  state.zone = zone;
  T.rememberZone(zone);
  zoneSelect.value = zone;
  renderZoneHint();
  say("info", `Times are now shown in ${T.zoneLabel(zone)}.`);
  const today = T.todayKey(zone);
  if (state.weekStart < today) state.weekStart = today;
  loadWeek({ keepSelection: true });
  loadUpcoming();
}

function renderReadOnlyNote() {
  const s = state.session;
  if (state.canBook) return;
  const note = $("readonly-note");
  const parts = [el("h2", {}, "Viewing only: clients book here")];
  if (s.role === "expert" && s.expert_id && s.expert_id.toLowerCase() === expertId.toLowerCase()) {
    parts.push(
      el("p", {}, "This is your booking page as your clients see it. Only clients can book, so the times are shown read-only."),
      el("p", {}, el("a", { href: `/experts/${encodeURIComponent(s.expert_id)}/manage` }, "Manage your availability")),
    );
  } else if (s.role === "expert") {
    parts.push(el("p", {}, "You're signed in as an expert. Only clients can book, so the times are shown read-only."));
  } else {
    parts.push(el("p", {}, "You're signed in as an administrator. Only clients can book here, so the times are shown read-only."));
  }
  note.replaceChildren(...parts);
  note.hidden = false;
}

async function loadUpcoming() {
  if (!state.canBook) return;
  const card = $("upcoming-card");
  const list = $("upcoming");
  card.hidden = false;
  if (state.expert) $("upcoming-title").textContent = `Your upcoming appointments with ${state.expert.name}`;
  try {
    const { appointments } = await api("GET", `/api/v1/clients/${encodeURIComponent(state.session.client_id)}/appointments`);
    const mine = appointments.filter(
      (a) => String(a.expert_id).toLowerCase() === expertId.toLowerCase() && a.status !== "cancelled",
    );
    if (mine.length === 0) {
      list.replaceChildren(el("li", { class: "muted" }, "None yet."));
      return;
    }
    list.replaceChildren(
      ...mine.map((a) =>
        el(
          "li",
          {},
          el(
            "a",
            { href: `/appointments/${encodeURIComponent(a.id)}`, class: "upcoming-link" },
            el("span", { class: "upcoming-date" }, T.dateShort(a.start_time, state.zone)),
            el("span", { class: "upcoming-time" }, T.timeRange(a.start_time, a.end_time, state.zone)),
            a.status === "pending" ? el("span", { class: "badge badge-warn" }, "Pending") : null,
          ),
        ),
      ),
    );
  } catch (e) {
    list.replaceChildren(el("li", { class: "muted" }, `Your appointments couldn't be loaded: ${e.message}`));
  }
}

// ---------------------------------------------------------------- confirm and book

function openConfirm(slot) {
  if (!state.canBook) {
    say("info", "Only clients can book. ", state.session.role === "expert" ? "You're signed in as an expert." : "You're signed in as an administrator.");
    return;
  }
  state.pick = slot;
  const zone = state.zone;
  const expert = state.expert;
  $("confirm-date").textContent = T.dateLong(slot.start, zone);
  $("confirm-time").textContent = T.timeRange(slot.start, slot.end, zone);
  $("confirm-zone").textContent = `Your time zone: ${T.zoneLabel(zone, new Date(slot.start))}`;
  const expertTime = $("confirm-expert-time");
  if (expert && expert.timezone && !T.sameOffset(expert.timezone, zone, new Date(slot.start))) {
    expertTime.textContent = `For ${expert.name} (${T.zoneLabel(expert.timezone, new Date(slot.start))}): ` +
      `${T.dateShort(slot.start, expert.timezone)}, ${T.timeRange(slot.start, slot.end, expert.timezone)}`;
  } else if (expert) {
    expertTime.textContent = `${expert.name} is in the same time zone.`;
  }
  const minutes = Math.round((new Date(slot.end) - new Date(slot.start)) / 60000);
  $("confirm-with").textContent = expert ? `${T.duration(minutes)} with ${expert.name}` : T.duration(minutes);
  confirmError.replaceChildren();
  if (state.moving) {
    $("confirm-title").textContent = "Move your appointment here?";
    $("confirm-with").textContent = `From ${T.dateShort(state.moving.start_time, zone)}, ${T.timeRange(state.moving.start_time, state.moving.end_time, zone)}. The current time stays booked until this one is confirmed.`;
  }
  confirmBook.textContent = confirmLabel();
  confirmBook.disabled = false;
  $("confirm-body").hidden = false;
  $("confirm-pending").hidden = true;
  if (!dialog.open) dialog.showModal();
  confirmBook.focus();
  holdPick(slot);
  offerRepeat(slot);
}

/**
 * Where the expert takes recurring bookings (policy max_series_occurrences), the client may repeat
 * the time weekly: the dialog lists each occurrence (the same wall-clock time in the expert's zone,
 * as the server books it) and whether it is free now; taken ones are skipped at booking.
 */
function offerRepeat(slot) {
  const cap = Math.min(12, (state.expert && state.expert.booking_policy && state.expert.booking_policy.max_series_occurrences) || 0);
  const field = $("confirm-repeat-field");
  const select = $("confirm-repeat");
  state.repeat = 1;
  field.hidden = state.moving || cap < 2;
  if (field.hidden) return;
  select.replaceChildren(el("option", { value: "1" }, "Just this once"),
    ...Array.from({ length: cap - 1 }, (_, i) => el("option", { value: String(i + 2) }, `Every week, ${i + 2} times`)));
  select.value = "1";
  $("confirm-occurrences").replaceChildren();
  select.onchange = () => showOccurrences(slot, Number(select.value));
}

/** The weekly occurrences of `slot`, as the server plans them: its wall-clock time in the expert's zone. */
function weeklyOccurrences(slot, n) {
  const zone = state.expert.timezone;
  const length = new Date(slot.end) - new Date(slot.start);
  const day = T.dateKey(slot.start, zone);
  const p = T.partsIn(slot.start, zone);
  const clockTime = `${String(p.hour).padStart(2, "0")}:${String(p.minute).padStart(2, "0")}`;
  return Array.from({ length: n }, (_, k) => {
    const start = T.wallTime(T.addDays(day, 7 * k), clockTime, zone);
    return { start: T.rfc3339(start), end: T.rfc3339(new Date(start.getTime() + length)) };
  });
}

async function showOccurrences(slot, n) {
  const list = $("confirm-occurrences");
  const seq = ++state.repeatSeq;
  state.repeat = n;
  confirmBook.textContent = n > 1 ? `Book ${n} times` : confirmLabel();
  if (n < 2) {
    list.replaceChildren();
    return;
  }
  const occurrences = weeklyOccurrences(slot, n);
  const minutes = Math.round((new Date(slot.end) - new Date(slot.start)) / 60000);
  const last = occurrences[occurrences.length - 1];
  list.replaceChildren(el("li", { class: "muted" }, "Checking which weeks are free…"));
  let free = new Set();
  try {
    const query = `from=${encodeURIComponent(occurrences[1].start)}&to=${encodeURIComponent(T.rfc3339(new Date(new Date(last.start).getTime() + 1000)))}&duration_minutes=${minutes}`;
    const answer = await api("GET", `${expertPath}/slots?${query}`);
    free = new Set((answer.slots || []).map((s) => T.rfc3339(s.start)));
  } catch {
    if (seq === state.repeatSeq) list.replaceChildren(el("li", { class: "muted" }, "The other weeks couldn't be checked; booking books the free ones."));
    return;
  }
  if (seq !== state.repeatSeq) return;
  const zone = state.zone;
  const items = occurrences.map((o, k) => {
    const ok = k === 0 || free.has(o.start);
    return el("li", { "data-occurrence": o.start, "data-free": String(ok) },
      `${T.dateShort(o.start, zone)}, ${T.timeRange(o.start, o.end, zone)}: ${ok ? "free" : "taken, will be skipped"}`);
  });
  list.replaceChildren(...items);
  const bookable = items.filter((i) => i.dataset.free === "true").length;
  confirmBook.textContent = `Book ${bookable} time${bookable === 1 ? "" : "s"}`;
}

/** Books the picked time and its weekly repeats (taken weeks skipped), then shows the first. */
async function bookSeries(slot, key) {
  // A hold is for one booking: let it go, or it would stand in the series' own way.
  const held = state.hold;
  state.hold = null;
  if (held) await api("DELETE", `/api/v1/holds/${encodeURIComponent(held.id)}`).catch(() => {});
  const body = {
    expert_id: expertId, client_id: state.session.client_id, start_time: slot.start, end_time: slot.end,
    recurrence: { frequency: "weekly", count: state.repeat }, on_conflict: "skip",
  };
  const answer = await api("POST", "/api/v1/appointments", body, { headers: { "Idempotency-Key": key } });
  return answer.appointments[0];
}

function closeConfirm() {
  if (dialog.open) dialog.close();
}

/**
 * Holds the picked time for this client while they read and confirm, so nobody else can book it
 * meanwhile. A time taken in the meantime is said in the dialog (confirming then refreshes the
 * times). Where a hold cannot be had (a provider that decides its own slots, the network), the
 * booking goes on without one, as it always could.
 */
function holdPick(slot) {
  const note = $("confirm-hold");
  note.textContent = "";
  releaseHold();
  if (state.moving) {
    state.holding = null;
    return;
  }
  const body = { expert_id: expertId, client_id: state.session.client_id, start_time: slot.start, end_time: slot.end };
  state.holding = api("POST", "/api/v1/holds", body).then(
    (h) => {
      const current = state.pick === slot && dialog.open;
      if (!current) {
        api("DELETE", `/api/v1/holds/${encodeURIComponent(h.id)}`).catch(() => {});
        return null;
      }
      state.hold = { id: h.id, start: slot.start, end: slot.end };
      note.textContent = `This time is held for you until ${T.time(h.expires_at, state.zone)}.`;
      return state.hold;
    },
    (e) => {
      if (e.code !== "slot_taken" && e.code !== "slot_unavailable") return null;
      if (state.pick === slot && !state.booking) {
        dialogError(e.code === "slot_taken" ? "Someone else has just taken this time." : "This time can't be booked any more.");
        confirmBook.textContent = "Pick another time";
      }
      return { refused: e };
    },
  );
}

/** Lets the held time go (the dialog closed without a booking). */
function releaseHold() {
  const held = state.hold;
  state.hold = null;
  if (held) api("DELETE", `/api/v1/holds/${encodeURIComponent(held.id)}`).catch(() => {});
}

/** POST /api/v1/appointments with an Idempotency-Key, so a retry never books twice. */
async function postAppointment(body, key) {
  const appointment = await api("POST", "/api/v1/appointments", body, { headers: { "Idempotency-Key": key } });
  return { status: appointment && appointment.status === "pending" ? 202 : 201, appointment };
}

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function book() {
  const slot = state.pick;
  if (!slot || state.booking) return;
  state.booking = true;
  confirmBook.disabled = true;
  confirmBook.textContent = state.moving ? "Moving…" : "Booking…";
  dialog.setAttribute("aria-busy", "true");
  confirmError.replaceChildren();
  const held = state.holding ? await state.holding : null;
  if (held && held.refused) {
    state.booking = false;
    dialog.removeAttribute("aria-busy");
    confirmBook.disabled = false;
    await bookingFailed(held.refused, slot);
    return;
  }
  const series = state.repeat > 1;
  const holdId = !series && state.hold && state.hold.start === slot.start && state.hold.end === slot.end ? state.hold.id : null;
  // One key per slot (and hold) until the server answered for sure: a retry after a lost answer
  // replays the first booking instead of making a second.
  const attempt = `${slot.start}|${slot.end}|${holdId || ""}|${series ? state.repeat : ""}`;
  if (!state.keys.has(attempt)) state.keys.set(attempt, newKey());
  const key = state.keys.get(attempt);
  let done = false;
  if (state.moving) {
    try {
      const moved = await api("PATCH", `/api/v1/appointments/${encodeURIComponent(state.moving.id)}`, { start_time: slot.start, end_time: slot.end });
      done = true;
      confirmBook.textContent = "Moved";
      const s = state.session;
      location.assign(s.role === "expert"
        ? `/experts/${encodeURIComponent(s.expert_id)}/appointments?rescheduled=${encodeURIComponent(moved.id)}`
        : `/appointments/${encodeURIComponent(moved.id)}?rescheduled=1`);
    } catch (e) {
      await bookingFailed(e, slot);
    } finally {
      state.booking = false;
      dialog.removeAttribute("aria-busy");
      if (!done) {
        confirmBook.disabled = false;
        if (confirmBook.textContent === "Moving…") confirmBook.textContent = confirmLabel();
      }
    }
    return;
  }
  if (series) {
    try {
      const first = await bookSeries(slot, key);
      state.keys.delete(attempt);
      done = true;
      confirmBook.textContent = "Booked";
      location.assign(`/appointments/${encodeURIComponent(first.id)}?booked=1`);
    } catch (e) {
      await bookingFailed(e, slot);
    } finally {
      state.booking = false;
      dialog.removeAttribute("aria-busy");
      if (!done) confirmBook.disabled = false;
    }
    return;
  }
  try {
    const body = { expert_id: expertId, client_id: state.session.client_id, start_time: slot.start, end_time: slot.end };
    if (holdId) body.hold_id = holdId;
    const { status, appointment } = await postAppointment(body, key);
    state.keys.delete(attempt);
    if (holdId) state.hold = null; // the booking took its place
    if (status === 202 || (appointment && appointment.status === "pending")) {
      showPending(appointment);
    } else {
      done = true;
      confirmBook.textContent = "Booked";
      location.assign(`/appointments/${encodeURIComponent(appointment.id)}?booked=1`);
    }
  } catch (e) {
    await bookingFailed(e, slot);
  } finally {
    state.booking = false;
    dialog.removeAttribute("aria-busy");
    if (!done) {
      confirmBook.disabled = false;
      if (confirmBook.textContent === "Booking…") confirmBook.textContent = confirmLabel();
    }
  }
}

function dialogError(...content) {
  confirmError.replaceChildren(el("div", { class: "alert alert-error" }, ...content));
}

async function bookingFailed(e, slot) {
  const definite = e.status >= 400 && e.status < 500;
  if (definite) for (const k of [...state.keys.keys()]) if (k.startsWith(`${slot.start}|${slot.end}|`)) state.keys.delete(k);
  if (e.code === "hold_expired" || e.code === "hold_mismatch") {
    state.hold = null;
    state.holding = null;
    $("confirm-hold").textContent = "";
    dialogError("The hold on this time ran out. Confirm again to book it if it is still free.");
    confirmBook.textContent = confirmLabel();
    return;
  }
  if (e.code === "slot_taken" || e.code === "slot_unavailable") {
    closeConfirm();
    const own = e.code === "slot_taken" ? await ownBookingAt(slot) : null;
    if (own) {
      say("ok", "You already have this time booked. ", el("a", { href: `/appointments/${encodeURIComponent(own.id)}` }, "See your appointment"));
    } else if (e.code === "slot_taken") {
      say("warn", "Someone just booked this time: pick another.");
    } else {
      say("warn", "That time can't be booked any more (it may be too soon now, or the expert's hours changed): pick another.");
    }
    await loadWeek({ keepSelection: true });
    loadUpcoming();
    dayTitle.focus();
    return;
  }
  if (calendarDown(e)) {
    dialogError(CALENDAR_DOWN, " Your time is not booked yet.");
    confirmBook.textContent = "Try again";
  } else if (e.status === 0) {
    dialogError("We couldn't reach the server, so we don't know if the booking went through. Trying again is safe: it will never book twice.");
    confirmBook.textContent = "Try again";
  } else if (e.status === 401) {
    dialogError("Your session has ended, so nothing was booked. ", signInAgainLink(), " and pick your time again.");
  } else if (e.code === "csrf_token_invalid") {
    dialogError("Your sign-in changed in another tab, so nothing was booked. Reload this page and try again.");
  } else if (state.moving && e.status === 409) {
    dialogError(`This appointment can't be moved any more (${e.message}). `, el("a", { href: `/appointments/${encodeURIComponent(state.moving.id)}` }, "See the appointment"));
  } else if (e.status === 403) {
    dialogError("Only clients can book appointments, so nothing was booked.");
  } else if (e.status >= 500) {
    dialogError("Something went wrong on our side, and the time is not booked yet. Try again in a minute.");
    confirmBook.textContent = "Try again";
  } else {
    dialogError(`The booking was refused: ${e.message}`);
  }
}

/** After a 409: whether the time is taken by this client's own earlier booking. */
async function ownBookingAt(slot) {
  try {
    const from = T.rfc3339(new Date(slot.start));
    const to = T.rfc3339(new Date(slot.end));
    const { appointments } = await api(
      "GET",
      `/api/v1/clients/${encodeURIComponent(state.session.client_id)}/appointments?status=confirmed&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`,
    );
    return appointments.find((a) => String(a.expert_id).toLowerCase() === expertId.toLowerCase()) || null;
  } catch {
    return null;
  }
}

/** The name of the expert's scheduler (GET /api/v1/providers), for a pending booking's texts. */
async function schedulerName() {
  try {
    const integration = state.expert && state.expert.integration_type;
    const { providers } = await api("GET", "/api/v1/providers");
    const found = providers.find((p) => p.integration_type === integration);
    return found ? found.display_name : "the expert's scheduler";
  } catch {
    return "the expert's scheduler";
  }
}

/** A scheduler's 202: the booking is finished on the scheduler's page with a single-use link. */
async function showPending(appointment) {
  const name = await schedulerName();
  const url = appointment && appointment.scheduling_url;
  const pending = $("confirm-pending");
  const safeUrl = url && /^https?:\/\//i.test(url) ? url : null;
  const parts = [
    el("h2", {}, `Almost done: finish booking on ${name}`),
    el("p", {}, `This expert takes bookings through ${name}. Your booking is pending until you finish there.`),
  ];
  if (safeUrl) {
    parts.push(el("p", {}, el("a", { class: "btn btn-primary", href: safeUrl, target: "_blank", rel: "noopener noreferrer" }, `Finish booking on ${name}`)));
    parts.push(el("p", { class: "small muted" }, "The link works once and opens in a new tab."));
  }
  if (appointment && appointment.id) {
    parts.push(el("p", {}, el("a", { href: `/appointments/${encodeURIComponent(appointment.id)}` }, "See the pending appointment")));
  }
  const close = el("button", { class: "btn", type: "button", onclick: closeConfirm }, "Close");
  parts.push(el("div", { class: "dialog-actions" }, close));
  pending.replaceChildren(...parts);
  $("confirm-body").hidden = true;
  pending.hidden = false;
  pending.focus();
  say(
    "info",
    `Finish booking on ${name}: `,
    safeUrl ? el("a", { href: safeUrl, target: "_blank", rel: "noopener noreferrer" }, `open the ${name} link`) : "the link was not given",
    ".",
  );
  loadUpcoming();
}

// ---------------------------------------------------------------- wiring

$("prev-week").addEventListener("click", () => goToWeek(T.addDays(state.weekStart, -7)));
$("next-week").addEventListener("click", () => goToWeek(T.addDays(state.weekStart, 7)));
$("today").addEventListener("click", () => goToWeek(T.todayKey(state.zone)));
zoneSelect.addEventListener("change", () => changeZone(zoneSelect.value));
$("use-detected").addEventListener("click", () => {
  changeZone(T.detectedZone());
  zoneSelect.focus();
});
confirmBook.addEventListener("click", book);
dialog.addEventListener("close", releaseHold);
$("confirm-back").addEventListener("click", closeConfirm);
dialog.addEventListener("cancel", (event) => {
  if (state.booking) event.preventDefault(); // Escape while the request is out: wait for its answer
});
dialog.addEventListener("click", (event) => {
  if (event.target === dialog && !state.booking) closeConfirm(); // a click on the backdrop
});
// Coming back to a tab left open a while: the times may have gone, so fetch them again.
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && state.weekStart && !state.loading && Date.now() - state.loadedAt > 60000) {
    loadWeek({ keepSelection: true });
  }
});

/** Reschedule mode: the appointment to move, said at the top; anyone who may move it may pick. */
async function startMoving() {
  const note = $("readonly-note");
  try {
    const a = await api("GET", `/api/v1/appointments/${encodeURIComponent(rescheduleId)}`);
    if (a.status !== "confirmed" || String(a.expert_id).toLowerCase() !== expertId.toLowerCase()) {
      note.replaceChildren(el("p", {}, "This appointment can't be rescheduled here (it is not a confirmed appointment with this expert). ",
        el("a", { href: `/appointments/${encodeURIComponent(a.id)}` }, "See the appointment")));
      note.hidden = false;
      return;
    }
    state.moving = a;
    state.canBook = true;
    document.body.classList.add("rescheduling");
    document.querySelector(".book-head .eyebrow").textContent = "Reschedule an appointment";
    note.replaceChildren(
      el("h2", {}, "Pick a new time"),
      el("p", { id: "moving-from" }, `Now booked: ${T.dateLong(a.start_time, state.zone)}, ${T.timeRange(a.start_time, a.end_time, state.zone)}. It stays booked until you confirm the new time.`),
      el("p", {}, el("a", { href: `/appointments/${encodeURIComponent(a.id)}` }, "Keep the current time")),
    );
    note.hidden = false;
  } catch (e) {
    note.replaceChildren(el("p", {}, `The appointment to reschedule couldn't be loaded: ${e.message}`));
    note.hidden = false;
  }
}

async function start() {
  state.session = await requireSession();
  const s = state.session;
  mountTopbar(s, (e) => say("error", e.message));
  state.canBook = s.role === "client" && Boolean(s.client_id);
  if (rescheduleId) await startMoving();
  if (!state.canBook) document.body.classList.add("read-only");
  T.fillZoneSelect(zoneSelect, state.zone);
  renderZoneHint();
  renderReadOnlyNote();
  state.weekStart = T.todayKey(state.zone);
  state.selected = state.weekStart;

  const expertRequest = api("GET", expertPath).then(
    (expert) => {
      state.expert = expert;
      document.title = `Book ${expert.name} · Availability`;
      $("expert-name").textContent = expert.name;
      renderMeta();
      renderWeek();
      return expert;
    },
    (e) => {
      $("expert-name").textContent = e.status === 404 ? "Expert not found" : "Book an appointment";
      throw e;
    },
  );
  state.expertReady = expertRequest.catch(() => null);
  // The expert and the first week are asked for together; looking further ahead waits for the
  // expert's booking horizon.
  const [expertResult] = await Promise.allSettled([expertRequest, loadWeek({ findFirst: true })]);
  if (expertResult.status === "rejected") {
    const e = expertResult.reason;
    if (e.status === 404) {
      say("error", "This booking link doesn't match any expert. Check the link you were given.");
      $("picker").hidden = true;
    } else if (!notice.childElementCount) {
      say("error", e.message);
    }
    return;
  }
  await loadUpcoming();
}

start()
  .catch((e) => say("error", e.message))
  .finally(() => {
    document.body.dataset.ready = "true";
  });

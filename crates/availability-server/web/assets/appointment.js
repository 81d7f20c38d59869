// One appointment, /appointments/{id}: when it is (in the viewer's zone and the expert's), its
// status and calendar sync in plain words, its video meeting ("Join" from 10 minutes before the
// start), and cancelling it with a confirmation.
import { api, el, mountTopbar, requireSession } from "/assets/api.js";
import * as T from "/assets/time.js";

const $ = (id) => document.getElementById(id);
const appointmentId = decodeURIComponent(location.pathname.split("/")[2] || "");
const path = `/api/v1/appointments/${encodeURIComponent(appointmentId)}`;

const notice = $("notice");
const dialog = $("cancel-dialog");
const confirmCancel = $("confirm-cancel");
const zoneSelect = $("timezone");

const state = {
  session: null,
  appointment: null,
  expert: null,
  zone: T.chosenZone(),
  cancelling: false,
  pollDelay: 1000,
  pollTimer: null,
  pollUntil: 0,
  joinTimer: null,
};

/** How long before the start the "Join" link appears. */
const JOIN_EARLY_MS = 10 * 60000;

function say(kind, ...content) {
  notice.replaceChildren(el("div", { class: `alert alert-${kind}` }, ...content));
}

/** calendar_type -> {name, scheduler} of the registered providers (GET /api/v1/providers). */
const calendars = new Map();

async function loadProviders() {
  try {
    const { providers } = await api("GET", "/api/v1/providers");
    for (const p of providers) {
      if (p.calendar_type) calendars.set(p.calendar_type, { name: p.display_name, scheduler: p.capabilities.provider_slots });
    }
  } catch {
    // Without the list the texts say "the expert's calendar".
  }
}

/** The name of the scheduler an appointment is booked on. */
function schedulerOf(a) {
  const provider = calendars.get(a.calendar_type);
  return provider ? provider.name : "the expert's scheduler";
}

/** The status as a badge: Confirmed, Cancelled or Pending. */
function statusBadge(a) {
  if (a.status === "cancelled") return { text: "Cancelled", kind: "badge-danger" };
  if (a.status === "pending") return { text: "Pending", kind: "badge-warn" };
  if (a.status === "confirmed") return { text: "Confirmed", kind: "badge-ok" };
  return { text: a.status, kind: "" };
}

/** The calendar sync in plain words (empty when there is no outside calendar). */
function syncText(a) {
  const provider = calendars.get(a.calendar_type);
  const calendar = provider ? provider.name : "the expert's calendar";
  const scheduler = Boolean(provider && provider.scheduler);
  const theirs = scheduler ? calendar : "the expert's calendar";
  if (a.sync_status === "not_applicable" || !a.sync_status) return { text: "" };
  if (a.status === "cancelled") {
    if (a.sync_status === "pending") return { text: `Being removed from ${theirs}…` };
    if (a.sync_status === "synced") return { text: `Removed from ${theirs}.` };
    return { text: `Couldn't be removed from ${theirs}. The appointment is cancelled all the same.`, failed: true };
  }
  if (a.status === "pending") return { text: `Waiting for ${calendar === "the expert's calendar" ? "the expert's scheduler" : calendar} to confirm.` };
  if (a.sync_status === "pending") return { text: `Being added to ${theirs}…` };
  if (a.sync_status === "synced") return { text: scheduler ? `Booked on ${calendar}.` : `Added to ${calendar}.` };
  return {
    text: `Couldn't be added to ${theirs}. The appointment still stands; the expert sees it here.`,
    failed: true,
  };
}

function render() {
  const a = state.appointment;
  const zone = state.zone;
  const expert = state.expert;
  const expertName = expert ? expert.name : "the expert";
  const cancelled = a.status === "cancelled";
  const ended = new Date(a.end_time) <= new Date();
  const mine = state.session.role === "client";

  $("title").textContent = state.session.role === "expert" ? "Appointment with a client" : `Appointment with ${expertName}`;
  document.title = `${T.dateShort(a.start_time, zone)} with ${expertName} · Availability`;

  const badge = statusBadge(a);
  const status = $("status");
  status.className = `badge ${badge.kind}`;
  status.textContent = badge.text;
  const sync = syncText(a);
  $("sync").textContent = sync.text;
  $("sync").classList.toggle("sync-failed", Boolean(sync.failed));

  $("appointment").classList.toggle("is-cancelled", cancelled);
  const when = [
    el("span", { class: "when-date" }, T.dateLong(a.start_time, zone)),
    el("span", { class: "when-time" }, T.timeRange(a.start_time, a.end_time, zone)),
  ];
  if (cancelled) when.push(el("span", { class: "visually-hidden" }, " (cancelled)"));
  $("appointment-time").replaceChildren(...when);
  $("zone-line").textContent = `In ${T.zoneLabel(zone, new Date(a.start_time))}.`;
  const expertTime = $("expert-time");
  if (expert && expert.timezone && !T.sameOffset(expert.timezone, zone, new Date(a.start_time))) {
    expertTime.textContent = `For ${expert.name} (${T.zoneLabel(expert.timezone, new Date(a.start_time))}): ` +
      `${T.dateShort(a.start_time, expert.timezone)}, ${T.timeRange(a.start_time, a.end_time, expert.timezone)}.`;
  } else {
    expertTime.textContent = expert ? `${expert.name} is in the same time zone.` : "";
  }

  const pendingBox = $("pending-box");
  const url = a.scheduling_url && /^https?:\/\//i.test(a.scheduling_url) ? a.scheduling_url : null;
  if (a.status === "pending" && url && mine) {
    pendingBox.replaceChildren(
      el("div", { class: "alert alert-info" },
        el("p", {}, `This booking is finished on ${schedulerOf(a)}. Until then, the time is not confirmed.`),
        el("a", { class: "btn btn-primary", href: url, target: "_blank", rel: "noopener noreferrer" }, `Finish booking on ${schedulerOf(a)}`)),
    );
  } else {
    pendingBox.replaceChildren();
  }

  renderMeeting(a, ended);

  const minutes = Math.round((new Date(a.end_time) - new Date(a.start_time)) / 60000);
  const facts = [["Length", T.duration(minutes)], ["With", expertName]];
  const calendar = calendars.get(a.calendar_type);
  if (calendar) facts.push(["Calendar", calendar.name]);
  if (cancelled && a.cancellation_reason) facts.push(["Reason for cancelling", a.cancellation_reason]);
  if (a.created_at) facts.push(["Booked", `${T.dateShort(a.created_at, zone)}, ${T.time(a.created_at, zone)}`]);
  $("facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));

  const cancel = $("cancel");
  cancel.hidden = cancelled || ended;
  // Reschedule: the expert's slot picker moves this appointment; it stays booked until the new
  // time is confirmed there.
  const reschedule = $("reschedule");
  reschedule.href = `/book/${encodeURIComponent(a.expert_id)}?reschedule=${encodeURIComponent(a.id)}`;
  reschedule.hidden = cancelled || ended || a.status !== "confirmed";
  // The .ics comes from the API with the session cookie (a plain GET link: no script, no CSRF
  // header needed). After a cancel the same event says CANCELLED, which updates a calendar that
  // has it.
  const ics = $("add-to-calendar");
  ics.href = `${path}/ics`;
  ics.setAttribute("download", `appointment-${a.id}.ics`);
  ics.textContent = cancelled ? "Update your calendar (.ics)" : "Add to calendar (.ics)";
  ics.hidden = false;
  const bookLink = $("book-link");
  bookLink.href = `/book/${encodeURIComponent(a.expert_id)}`;
  bookLink.textContent = state.session.role === "expert"
    ? "Your booking page"
    : cancelled ? `Book a new time with ${expertName}` : `Book another time with ${expertName}`;
  if (ended && !cancelled && a.status === "confirmed" && !notice.childElementCount) {
    say("info", "This appointment has already taken place.");
  }
}

/** The video meeting: "Join" from 10 minutes before the start until the end, a note before. */
function renderMeeting(a, ended) {
  const box = $("meeting-box");
  clearTimeout(state.joinTimer);
  const link = a.meeting_url && /^https:\/\//i.test(a.meeting_url) ? a.meeting_url : null;
  if (a.status !== "confirmed" || ended) {
    box.replaceChildren();
    return;
  }
  if (!link) {
    box.replaceChildren(...(a.meeting_error
      ? [el("p", { class: "muted small", id: "meeting-note" }, `No video link: ${a.meeting_error}`)]
      : []));
    return;
  }
  const opensIn = new Date(a.start_time).getTime() - JOIN_EARLY_MS - Date.now();
  if (opensIn <= 0) {
    box.replaceChildren(
      el("a", { class: "btn btn-primary", id: "join", href: link, target: "_blank", rel: "noopener noreferrer" }, "Join"),
    );
    // Gone once it is over.
    const endsIn = new Date(a.end_time).getTime() - Date.now();
    if (endsIn < 86400000) state.joinTimer = setTimeout(render, endsIn + 1000);
    return;
  }
  box.replaceChildren(el("p", { class: "muted small", id: "meeting-note" },
    "This appointment is on video. The Join link appears here 10 minutes before the start."));
  // Shown without a reload when the time comes (timers this far ahead are fine; longer ones are not).
  if (opensIn < 86400000) state.joinTimer = setTimeout(render, opensIn + 500);
}

// ---------------------------------------------------------------- sync: watch until it settles

function watchSync() {
  clearTimeout(state.pollTimer);
  const a = state.appointment;
  const unsettled = a.sync_status === "pending" || a.status === "pending";
  if (!unsettled) return;
  if (!state.pollUntil) state.pollUntil = Date.now() + 10 * 60000;
  if (Date.now() > state.pollUntil) return;
  state.pollTimer = setTimeout(async () => {
    if (document.visibilityState === "hidden") {
      watchSync();
      return;
    }
    try {
      const fresh = await api("GET", path);
      if (!state.cancelling) {
        state.appointment = fresh;
        render();
      }
    } catch {
      // A missed poll is fine: the next one asks again.
    }
    state.pollDelay = Math.min(state.pollDelay * 2, 30000);
    watchSync();
  }, state.pollDelay);
}

// ---------------------------------------------------------------- cancel

function openCancel() {
  const a = state.appointment;
  $("cancel-date").textContent = T.dateLong(a.start_time, state.zone);
  $("cancel-time").textContent = T.timeRange(a.start_time, a.end_time, state.zone);
  $("cancel-error").replaceChildren();
  confirmCancel.disabled = false;
  confirmCancel.textContent = "Cancel appointment";
  dialog.showModal();
  $("cancel-back").focus();
}

async function doCancel() {
  if (state.cancelling) return;
  state.cancelling = true;
  confirmCancel.disabled = true;
  confirmCancel.textContent = "Cancelling…";
  $("cancel-error").replaceChildren();
  const reason = $("cancel-reason").value.trim();
  try {
    const cancelled = await api("POST", `${path}/cancel`, reason ? { reason } : {});
    state.appointment = cancelled;
    dialog.close();
    state.pollDelay = 1000;
    state.pollUntil = 0;
    render();
    say("ok", "Your appointment is cancelled. ", el("a", { href: `/book/${encodeURIComponent(cancelled.expert_id)}` }, "Book a new time"));
    $("status").focus();
    watchSync();
  } catch (e) {
    let text = e.message;
    if (e.status === 0) text = "We couldn't reach the server. Nothing changed; trying again is safe.";
    else if (e.status === 401) text = "Your session has ended. Sign in again to cancel.";
    else if (e.code === "csrf_token_invalid") text = "Your sign-in changed in another tab. Reload this page and try again.";
    else if (e.status === 403) text = "You can't cancel this appointment.";
    else if (e.status >= 500) text = "Something went wrong on our side, and the appointment is not cancelled yet. Try again in a minute.";
    $("cancel-error").replaceChildren(el("div", { class: "alert alert-error" }, text));
    confirmCancel.disabled = false;
    confirmCancel.textContent = "Try again";
  } finally {
    state.cancelling = false;
  }
}

// ---------------------------------------------------------------- wiring

$("cancel").addEventListener("click", openCancel);
$("cancel-back").addEventListener("click", () => dialog.close());
confirmCancel.addEventListener("click", doCancel);
dialog.addEventListener("cancel", (event) => {
  if (state.cancelling) event.preventDefault();
});
dialog.addEventListener("click", (event) => {
  if (event.target === dialog && !state.cancelling) dialog.close();
});
dialog.addEventListener("close", () => {
  if (state.appointment && state.appointment.status !== "cancelled") $("cancel").focus();
});
zoneSelect.addEventListener("change", () => {
  if (!T.isZone(zoneSelect.value)) return;
  state.zone = zoneSelect.value;
  T.rememberZone(state.zone);
  render();
});

async function start() {
  state.session = await requireSession();
  const s = state.session;
  mountTopbar(s, (e) => say("error", e.message));
  let appointment;
  try {
    appointment = await api("GET", path);
  } catch (e) {
    $("title").textContent = "Appointment not found";
    if (e.status === 404 || e.status === 403 || e.status === 400) {
      say("error", "This appointment doesn't exist, or it isn't yours to see. ", el("a", { href: "/" }, "See your appointments"));
    } else {
      say("error", e.message);
    }
    return;
  }
  state.appointment = appointment;
  try {
    [state.expert] = await Promise.all([
      api("GET", `/api/v1/experts/${encodeURIComponent(appointment.expert_id)}`),
      loadProviders(),
    ]);
  } catch {
    state.expert = null; // the page still shows the appointment, in the viewer's zone
  }
  T.fillZoneSelect(zoneSelect, state.zone, state.expert && state.expert.timezone ? [state.expert.timezone] : []);
  const params = new URLSearchParams(location.search);
  if (params.has("booked")) {
    if (appointment.status === "confirmed") say("ok", "You're booked. This page is your appointment: come back here to see or cancel it.");
    history.replaceState(null, "", location.pathname);
  }
  if (params.has("rescheduled")) {
    say("ok", "Moved. Your appointment is now at the time below.");
    history.replaceState(null, "", location.pathname);
  }
  render();
  $("appointment").hidden = false;
  watchSync();
}

start()
  .catch((e) => say("error", e.message))
  .finally(() => {
    document.body.dataset.ready = "true";
  });

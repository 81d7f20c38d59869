// The expert's agenda, /experts/{id}/appointments: what needs them (calendar sync that failed,
// with the reason and a retry; provider bookings that are pending or held), upcoming appointments
// by day in the expert's zone (join, reschedule through the slot picker, cancel with a reason),
// then past and cancelled ones.
import { api, el, mountTopbar, requireSession } from "/assets/api.js";
import * as T from "/assets/time.js";
import { mount as mountExplain } from "/assets/explain-time.js";
import { actions, askToCancel, loadAppointments, mountCancelDialog, sortOut } from "/assets/people.js";

const $ = (id) => document.getElementById(id);
const expertId = decodeURIComponent(location.pathname.split("/")[2] || "");
const expertPath = `/api/v1/experts/${encodeURIComponent(expertId)}`;
const state = { expert: null, zone: "UTC", clients: new Map() };

function say(kind, ...content) {
  $("notice").replaceChildren(el("div", { class: `alert alert-${kind}` }, ...content));
}

function when(a) {
  return `${T.dateShort(a.start_time, state.zone)}, ${T.timeRange(a.start_time, a.end_time, state.zone)}`;
}

function clientName(a) {
  return state.clients.get(a.client_id) || "a client";
}

function label(a) {
  return `the appointment with ${clientName(a)} on ${when(a)}`;
}

async function cancel(a) {
  const cancelled = await askToCancel(a, state.zone, `With ${clientName(a)}`);
  if (cancelled) {
    say("ok", `Cancelled the appointment on ${when(a)}.`);
    await refresh();
  }
}

async function retry(a) {
  try {
    await api("POST", `/api/v1/appointments/${encodeURIComponent(a.id)}/sync/retry`);
    say("ok", `Trying again to update your calendar for ${when(a)}.`);
  } catch (e) {
    say("error", `Could not retry: ${e.message}`);
  }
  await refresh();
}

function syncNote(a) {
  if (a.sync_status === "pending" && a.calendar_type) return el("span", { class: "badge" }, "Updating your calendar…");
  if (a.sync_status === "synced" && a.calendar_type) return el("span", { class: "badge badge-ok" }, "In your calendar");
  return null;
}

function entry(a, extra = []) {
  const status = a.status === "cancelled" ? el("span", { class: "badge badge-danger" }, "Cancelled") : syncNote(a);
  const lines = [
    el("h3", {}, T.timeRange(a.start_time, a.end_time, state.zone), " ", status),
    el("p", { class: "with" }, `With ${clientName(a)}`),
    el("p", { class: "muted small" }, `${T.dateLong(a.start_time, state.zone)} · ${T.duration(Math.round((new Date(a.end_time) - new Date(a.start_time)) / 60000))}`),
  ];
  if (a.status === "cancelled" && a.cancellation_reason) {
    lines.push(el("p", { class: "reason" }, "Reason: ", a.cancellation_reason));
  }
  lines.push(...extra);
  return el("li", { class: `card entry${a.status === "cancelled" ? " is-cancelled" : ""}`, "data-appointment-id": a.id, "data-start": a.start_time },
    el("div", {}, lines), actions(a, { label: label(a), onCancel: cancel }));
}

/** What needs the expert, with what to do about it. */
function attentionItem(a) {
  const failed = a.sync_status !== "synced" && a.sync_status !== "pending" && a.sync_status !== "not_applicable";
  if (a.status === "pending" && failed) {
    return entry(a, [el("p", { class: "reason" }, el("strong", {}, "Held booking: "),
      a.sync_error || "the booking made in your scheduler overlaps another appointment.",
      " Cancel this one or the one it overlaps.")]);
  }
  if (a.status === "pending") {
    return entry(a, [el("p", {}, el("strong", {}, "Pending: "),
      "the client is finishing this booking in your scheduler. It is cancelled by itself if they don't within 24 hours; nothing to do meanwhile.")]);
  }
  const what = a.status === "cancelled" ? "The event could not be removed from your calendar" : "Your calendar could not be updated";
  const button = el("button", { class: "btn", type: "button", "data-action": "retry", "aria-label": `Retry the calendar sync of ${label(a)}`, onclick: () => retry(a) }, "Retry calendar sync");
  return entry(a, [el("p", { class: "reason" }, el("strong", {}, `${what}: `), a.sync_error || a.sync_status), el("p", {}, button)]);
}

function needsAttention(a) {
  if (a.status === "pending") return true;
  return a.sync_status !== "synced" && a.sync_status !== "pending" && a.sync_status !== "not_applicable";
}

async function refresh() {
  const [all, clients] = await Promise.all([
    loadAppointments(`${expertPath}/appointments`, 60),
    api("GET", `${expertPath}/clients`).then((answer) => answer.clients, () => []),
  ]);
  state.clients = new Map(clients.map((c) => [c.id, c.name]));
  const { upcoming, past, cancelled } = sortOut(all);
  const attention = all.filter(needsAttention);
  $("attention").hidden = attention.length === 0;
  $("attention-list").replaceChildren(...attention.map(attentionItem));
  const box = $("upcoming");
  const parts = [];
  let day = null;
  let list = null;
  for (const a of upcoming) {
    const key = T.dateKey(a.start_time, state.zone);
    if (key !== day) {
      day = key;
      list = el("ul", { class: "agenda-list" });
      parts.push(el("h3", { class: "day-group", "data-day": key }, T.dayLong(key)), list);
    }
    list.append(entry(a));
  }
  if (upcoming.length === 0) parts.push(el("p", { class: "muted" }, "No upcoming appointments."));
  box.replaceChildren(...parts);
  box.setAttribute("aria-busy", "false");
  $("past").replaceChildren(...past.map((a) => entry(a)));
  $("past-count").textContent = `(${past.length})`;
  $("cancelled").replaceChildren(...cancelled.map((a) => entry(a)));
  $("cancelled-count").textContent = `(${cancelled.length})`;
}

async function start() {
  const session = await requireSession();
  mountTopbar(session, (e) => say("error", e.message));
  mountCancelDialog();
  $("manage-link").href = `/experts/${encodeURIComponent(expertId)}/manage`;
  $("book-link").href = `/book/${encodeURIComponent(expertId)}`;
  try {
    state.expert = await api("GET", expertPath);
  } catch (e) {
    $("title").textContent = e.status === 404 ? "Expert not found" : "Agenda";
    throw e;
  }
  state.zone = state.expert.timezone;
  $("title").textContent = session.role === "expert" ? "Your agenda" : `${state.expert.name}'s agenda`;
  document.title = `${state.expert.name}'s agenda · Availability`;
  $("zone-line").textContent = `Times are in ${T.zoneLabel(state.zone)}, the time zone of your hours.`;
  mountExplain($("why-tool"), expertPath, () => state.zone);
  const moved = new URLSearchParams(location.search).get("rescheduled");
  if (moved) say("ok", "The appointment was moved to its new time.");
  try {
    await refresh();
  } catch (e) {
    $("upcoming").setAttribute("aria-busy", "false");
    $("upcoming").replaceChildren();
    throw e.status === 403 ? new Error("This agenda belongs to another expert.") : e;
  }
}

start()
  .catch((e) => say("error", e.message))
  .finally(() => {
    document.body.dataset.ready = "true";
  });

// The client's appointments across experts, /appointments: upcoming ones (join, reschedule to
// another of the expert's times, cancel with a reason), ones waiting on a scheduler's link,
// cancelled ones with the reason, and past ones. Times in the client's zone.
import { api, el, mountTopbar, requireSession } from "/assets/api.js";
import * as T from "/assets/time.js";
import { actions, askToCancel, loadAppointments, mountCancelDialog, sortOut } from "/assets/people.js";

const $ = (id) => document.getElementById(id);
const zone = T.chosenZone();
const experts = new Map(); // id -> name
let session = null;

function say(kind, ...content) {
  $("notice").replaceChildren(el("div", { class: `alert alert-${kind}` }, ...content));
}

async function expertName(id) {
  if (!experts.has(id)) {
    experts.set(id, api("GET", `/api/v1/experts/${encodeURIComponent(id)}`).then((e) => e.name, () => "an expert"));
  }
  return experts.get(id);
}

function when(a) {
  return `${T.dateShort(a.start_time, zone)}, ${T.timeRange(a.start_time, a.end_time, zone)}`;
}

async function cancel(a) {
  const name = await expertName(a.expert_id);
  const cancelled = await askToCancel(a, zone, `With ${name}`);
  if (cancelled) {
    say("ok", `Cancelled your appointment with ${name} on ${when(a)}.`);
    await refresh();
  }
}

async function entry(a) {
  const name = await expertName(a.expert_id);
  const label = `the appointment with ${name} on ${when(a)}`;
  const lines = [
    el("h3", {}, `With ${name}`),
    el("p", {}, el("strong", {}, when(a))),
  ];
  if (a.status === "cancelled") {
    lines.push(el("p", { class: "reason" }, el("span", { class: "badge badge-danger" }, "Cancelled"), " ",
      a.cancellation_reason ? `Reason: ${a.cancellation_reason}` : "No reason given."));
  }
  if (a.status === "pending" && a.scheduling_url && /^https:\/\//.test(a.scheduling_url)) {
    lines.push(el("p", {}, el("a", { href: a.scheduling_url, rel: "noopener" }, "Finish booking"), " — the time is not yours until you do."));
  }
  return el("li", { class: `card entry${a.status === "cancelled" ? " is-cancelled" : ""}`, "data-appointment-id": a.id, "data-start": a.start_time },
    el("div", {}, lines), actions(a, { label, onCancel: cancel }));
}

async function fill(id, list, empty) {
  const items = await Promise.all(list.map(entry));
  $(id).replaceChildren(...(items.length ? items : empty ? [el("li", { class: "muted" }, empty)] : []));
}

async function refresh() {
  const all = await loadAppointments(`/api/v1/clients/${encodeURIComponent(session.client_id)}/appointments`, 90);
  const { upcoming, pending, past, cancelled } = sortOut(all);
  await fill("upcoming", upcoming, "No upcoming appointments. Find an expert to book one.");
  $("upcoming").setAttribute("aria-busy", "false");
  $("pending-box").hidden = pending.length === 0;
  await fill("pending", pending);
  await fill("cancelled", cancelled, "None.");
  await fill("past", past);
  $("past-count").textContent = `(${past.length})`;
}

async function start() {
  session = await requireSession();
  mountTopbar(session, (e) => say("error", e.message));
  mountCancelDialog();
  $("zone-line").textContent = `Times are in your time zone, ${T.zoneLabel(zone)}.`;
  if (session.role !== "client" || !session.client_id) {
    $("upcoming").setAttribute("aria-busy", "false");
    say("info", "This page lists a client's own appointments. ",
      session.role === "expert" ? el("a", { href: `/experts/${encodeURIComponent(session.expert_id)}/appointments` }, "Open your agenda") : "");
    return;
  }
  await refresh();
}

start()
  .catch((e) => say("error", e.message))
  .finally(() => {
    document.body.dataset.ready = "true";
  });

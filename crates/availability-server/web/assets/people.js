// What the agenda and the client's appointments share: loading a window of appointments, the
// cancel dialog (with a reason), and the actions of one appointment.
import { api, el } from "/assets/api.js";
import * as T from "/assets/time.js";

const DAY = 86400000;

/** Every appointment of `listPath` from `pastDays` ago to a year ahead, by start. */
export async function loadAppointments(listPath, pastDays) {
  const from = T.rfc3339(new Date(Date.now() - pastDays * DAY));
  const to = T.rfc3339(new Date(Date.now() + 365 * DAY));
  const { appointments } = await api("GET", `${listPath}?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`);
  return appointments.sort((a, b) => new Date(a.start_time) - new Date(b.start_time));
}

/** Upcoming (not ended, confirmed), pending, past (ended, confirmed) and cancelled. */
export function sortOut(appointments) {
  const now = Date.now();
  const out = { upcoming: [], pending: [], past: [], cancelled: [] };
  for (const a of appointments) {
    if (a.status === "cancelled") out.cancelled.push(a);
    else if (a.status === "pending") out.pending.push(a);
    else if (new Date(a.end_time).getTime() <= now) out.past.push(a);
    else out.upcoming.push(a);
  }
  out.past.reverse();
  out.cancelled.reverse();
  return out;
}

/** The cancel dialog of the page (#cancel-dialog): resolves with the cancelled appointment, or null. */
export function askToCancel(appointment, zone, describe) {
  const dialog = document.getElementById("cancel-dialog");
  const reason = document.getElementById("cancel-reason");
  const error = document.getElementById("cancel-error");
  const confirm = document.getElementById("confirm-cancel");
  const back = document.getElementById("cancel-back");
  document.getElementById("cancel-when").textContent =
    `${describe} · ${T.dateLong(appointment.start_time, zone)}, ${T.timeRange(appointment.start_time, appointment.end_time, zone)}`;
  reason.value = "";
  error.replaceChildren();
  confirm.disabled = false;
  dialog.showModal();
  reason.focus();
  return new Promise((resolve) => {
    const done = (value) => {
      confirm.removeEventListener("click", onConfirm);
      back.removeEventListener("click", onBack);
      dialog.removeEventListener("cancel", onBack);
      if (dialog.open) dialog.close();
      resolve(value);
    };
    const onBack = () => done(null);
    const onConfirm = async () => {
      confirm.disabled = true;
      try {
        const text = reason.value.trim();
        const cancelled = await api("POST", `/api/v1/appointments/${encodeURIComponent(appointment.id)}/cancel`,
          text ? { reason: text } : {});
        done(cancelled);
      } catch (e) {
        error.replaceChildren(el("div", { class: "alert alert-error" }, `It was not cancelled: ${e.message}`));
        confirm.disabled = false;
      }
    };
    confirm.addEventListener("click", onConfirm);
    back.addEventListener("click", onBack);
    dialog.addEventListener("cancel", onBack);
  });
}

/** The buttons of a live appointment: join, reschedule, cancel, open. */
export function actions(a, { label, onCancel }) {
  const id = encodeURIComponent(a.id);
  const box = el("div", { class: "entry-actions" });
  if (a.meeting_url && /^https:\/\//.test(a.meeting_url) && a.status === "confirmed") {
    box.append(el("a", { class: "btn btn-primary", href: a.meeting_url, target: "_blank", rel: "noopener", "aria-label": `Join ${label}` }, "Join"));
  }
  if (a.status === "confirmed") {
    box.append(el("a", { class: "btn", href: `/book/${encodeURIComponent(a.expert_id)}?reschedule=${id}`, "aria-label": `Reschedule ${label}`, "data-action": "reschedule" }, "Reschedule"));
    box.append(el("button", { class: "btn btn-danger", type: "button", "aria-label": `Cancel ${label}`, "data-action": "cancel", onclick: () => onCancel(a) }, "Cancel"));
  }
  box.append(el("a", { class: "btn btn-link", href: `/appointments/${id}`, "aria-label": `Details of ${label}` }, "Details"));
  return box;
}

/** The cancel dialog's markup, added once to the page. */
export function mountCancelDialog() {
  if (document.getElementById("cancel-dialog")) return;
  document.body.append(el("dialog", { id: "cancel-dialog", class: "dialog", "aria-labelledby": "cancel-title" },
    el("div", { class: "dialog-body" },
      el("h2", { id: "cancel-title" }, "Cancel this appointment?"),
      el("p", { id: "cancel-when" }),
      el("div", { class: "field" },
        el("label", { for: "cancel-reason" }, "Reason ", el("span", { class: "hint" }, "(shown to the other person)")),
        el("textarea", { id: "cancel-reason", name: "reason", maxlength: "1000", rows: "3" })),
      el("div", { id: "cancel-error", class: "dialog-error", role: "alert" }),
      el("div", { class: "dialog-actions" },
        el("button", { class: "btn", type: "button", id: "cancel-back" }, "Keep it"),
        el("button", { class: "btn btn-danger", type: "button", id: "confirm-cancel" }, "Cancel appointment")))));
}

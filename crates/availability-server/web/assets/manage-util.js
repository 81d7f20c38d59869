// Shared helpers of the manage page: the notice region, times of day, dates in a zone, and the
// plain-words versions of API errors.
import { el } from "/assets/api.js";

const notice = document.getElementById("notice");
let noticeTimer = 0;

/**
 * One message in #notice (the aria-live region). kind: ok | error | info | warn. action: an optional
 * {label, run} button (e.g. Retry). Success messages go away by themselves after a while; the rest
 * stay until dismissed or replaced.
 */
export function say(kind, text, action) {
  clearTimeout(noticeTimer);
  const parts = [el("p", { class: "notice-text" }, text)];
  if (action) {
    parts.push(el("button", { class: "btn", type: "button", onclick: () => { clear(); action.run(); } }, action.label));
  }
  const close = el("button", { class: "btn btn-link notice-close", type: "button", "aria-label": "Dismiss message", onclick: clear }, "×");
  notice.replaceChildren(el("div", { class: `alert alert-${kind} notice-box` }, ...parts, close));
  if (kind === "ok" || kind === "info") noticeTimer = setTimeout(clear, 12000);
}

function clear() {
  clearTimeout(noticeTimer);
  notice.replaceChildren();
}

/** The API error in words a person can act on; `what` names the thing that failed. */
export function explain(error, what) {
  if (!error || error.status === undefined) return `${what} failed: ${error && error.message ? error.message : error}`;
  switch (error.status) {
    case 0:
      return `${what} failed: the server cannot be reached. Check your connection and try again.`;
    case 401:
      return `${what} failed: your session has ended. Sign in again (in a new tab keeps what you typed here), then try again.`;
    case 403:
      if (error.code === "csrf_token_invalid") return `${what} failed: this page's session is out of date (you may have signed in again elsewhere). Reload the page and try again.`;
      return `${what} failed: you are not allowed to change this expert's settings. Experts can only manage their own availability.`;
    default:
      break;
  }
  if (error.code === "needs_reauth") return `${what} failed: ${error.message}. Reconnect the calendar below to go on.`;
  if (error.code === "provider_unavailable") return `${what} failed: the calendar provider did not answer (${error.message}). Try again in a moment.`;
  if (error.status >= 500) return `${what} failed: ${error.message} Try again in a moment.`;
  return `${what} failed: ${error.message}`;
}

// ---- Times of day ("HH:MM"). An end of "00:00" in a time input means midnight: "24:00" in the API.

/** Minutes since midnight of a start time, or NaN. */
export function startMinutes(value) {
  const m = /^(\d\d):(\d\d)$/.exec(value || "");
  return m ? Number(m[1]) * 60 + Number(m[2]) : NaN;
}

/** Minutes since midnight of an end time: "00:00" and "24:00" are 1440. */
export function endMinutes(value) {
  const minutes = startMinutes(value === "24:00" ? "00:00" : value);
  return minutes === 0 ? 1440 : minutes;
}

/** The API's end time for an input's value. */
export const apiEnd = (value) => (value === "00:00" ? "24:00" : value);
/** An input's value for the API's end time. */
export const inputEnd = (value) => (value === "24:00" ? "00:00" : value);

/** What is wrong with a start–end pair of inputs, or "" when nothing is. */
export function rangeProblem(start, end) {
  if (!start && !end) return "Enter a start and an end time.";
  if (!start) return "Enter a start time.";
  if (!end) return "Enter an end time.";
  if (endMinutes(end) <= startMinutes(start)) return "The end must be after the start. For hours past midnight, add the rest on the next day.";
  return "";
}

// ---- Dates in a zone

const partsCache = new Map();
function partsFormat(zone) {
  let f = partsCache.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-CA", {
      timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    });
    partsCache.set(zone, f);
  }
  return f;
}

/** {date: "YYYY-MM-DD", time: "HH:MM"} of an instant in zone. */
export function localParts(instant, zone) {
  const p = Object.fromEntries(partsFormat(zone).formatToParts(instant).map((x) => [x.type, x.value]));
  return { date: `${p.year}-${p.month}-${p.day}`, time: `${p.hour}:${p.minute}` };
}

/** A calendar date plus n days ("YYYY-MM-DD", pure calendar arithmetic). */
export function addDays(date, n) {
  const [y, m, d] = date.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d + n)).toISOString().slice(0, 10);
}

/** Day of week of a calendar date, 0 = Sunday. */
export function weekday(date) {
  const [y, m, d] = date.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d)).getUTCDay();
}

const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short", timeZone: "UTC" });
const longDayFormat = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long", year: "numeric", timeZone: "UTC" });

/** "Mon, 30 Nov" for a calendar date. */
export function shortDate(date) {
  const [y, m, d] = date.split("-").map(Number);
  return dayFormat.format(new Date(Date.UTC(y, m - 1, d)));
}

/** "Monday, 30 November 2026" for a calendar date. */
export function longDate(date) {
  const [y, m, d] = date.split("-").map(Number);
  return longDayFormat.format(new Date(Date.UTC(y, m - 1, d)));
}

/** A time of an instant in zone, in the reader's clock style. */
export function clock(instant, zone) {
  return new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit", timeZone: zone }).format(instant);
}

/** When something happened, for status lines ("24 Nov 2026, 13:05"). */
export function when(rfc3339) {
  if (!rfc3339) return "";
  return new Date(rfc3339).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** A connection's status (GET integrations' `status`) in words, and its badge. */
export const STATUS_TEXT = { connected: "Connected", disconnected: "Not connected", needs_reauth: "Needs reconnecting" };
export const STATUS_BADGE = { connected: "badge badge-ok", disconnected: "badge", needs_reauth: "badge badge-warn" };

/** A connection's status as its badge. */
export function statusBadge(status) {
  return el("span", { class: STATUS_BADGE[status] || "badge" }, STATUS_TEXT[status] || status);
}

/** A list of [term, value] facts as a <dl class="facts">. */
export function factList(rows) {
  return el("dl", { class: "facts" }, rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

/** The "Live updates" fact of a connected calendar with push (GET integrations' `push`), or null. */
export function liveUpdates(info, name) {
  if (!info.push || info.status !== "connected") return null;
  return ["Live updates", el("span", { class: "push-state" }, pushText(info.push, name))];
}

/**
 * A calendar's live updates in words. Without push the server still reads the calendar: busy
 * times are at most 30 seconds old.
 */
function pushText(push, name) {
  const meanwhile = `changes in ${name} show within 30 seconds`;
  switch (push.state) {
    case "active": return `On: changes in ${name} show at once${push.last_notification_at ? ` (last notice ${when(push.last_notification_at)})` : ""}`;
    case "renewing": return `Starting; until then ${meanwhile}`;
    case "failed": return `Stopped: reconnect ${name}`;
    default: return `Off${push.reason ? ` (${push.reason})` : ""}: ${meanwhile}`;
  }
}

/** A field's error line, tied to its input by aria-describedby. */
let uid = 0;
export function nextId(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}

// Time-zone helpers for the pages. Instants come from the API in UTC; every one is shown in a
// chosen IANA zone with Intl (no library). Calendar days are "YYYY-MM-DD" keys in that zone.

const formatters = new Map();

/** A cached Intl.DateTimeFormat: building one is the slow part. */
function formatter(locale, options) {
  const key = `${locale || ""}|${JSON.stringify(options)}`;
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(locale, options);
    formatters.set(key, f);
  }
  return f;
}

const asDate = (instant) => (instant instanceof Date ? instant : new Date(instant));
const pad = (n) => String(n).padStart(2, "0");

/** The zone the browser runs in. */
export function detectedZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

/** Whether Intl knows this zone name. */
export function isZone(zone) {
  if (typeof zone !== "string" || !zone) return false;
  try {
    formatter("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

// The zone chosen in this tab: it follows the client from the booking page to the appointment
// page, and a new tab starts from the device's zone again.
const STORE_KEY = "availability.timezone";

/** The zone the pages show times in: the one picked in this tab, else the device's. */
export function chosenZone() {
  let saved = null;
  try {
    saved = sessionStorage.getItem(STORE_KEY);
  } catch {
    saved = null;
  }
  return saved && isZone(saved) ? saved : detectedZone();
}

/** Keeps the picked zone for this tab (forgotten when it is the device's own). */
export function rememberZone(zone) {
  try {
    if (zone === detectedZone()) sessionStorage.removeItem(STORE_KEY);
    else sessionStorage.setItem(STORE_KEY, zone);
  } catch {
    // Storage may be off: the choice then lasts for this page only.
  }
}

/** The wall-clock fields of an instant in a zone, as numbers. */
export function partsIn(instant, zone) {
  const f = formatter("en-US", {
    timeZone: zone, hourCycle: "h23",
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
  const out = {};
  for (const p of f.formatToParts(asDate(instant))) {
    if (p.type !== "literal") out[p.type] = Number(p.value);
  }
  if (out.hour === 24) out.hour = 0;
  return out;
}

/** The calendar day ("YYYY-MM-DD") of an instant in a zone. */
export function dateKey(instant, zone) {
  const p = partsIn(instant, zone);
  return `${String(p.year).padStart(4, "0")}-${pad(p.month)}-${pad(p.day)}`;
}

/** Today's day key in a zone. */
export function todayKey(zone) {
  return dateKey(new Date(), zone);
}

/** Milliseconds the zone is ahead of UTC at an instant. */
function offsetMs(ms, zone) {
  const whole = Math.floor(ms / 1000) * 1000;
  const p = partsIn(new Date(whole), zone);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - whole;
}

/** The first instant of a calendar day in a zone (midnight, or the end of a DST gap at midnight). */
export function startOfDay(key, zone) {
  const [y, m, d] = key.split("-").map(Number);
  const wall = Date.UTC(y, m - 1, d);
  const first = wall - offsetMs(wall, zone);
  const second = wall - offsetMs(first, zone);
  const candidates = [first, second, wall - offsetMs(first - 3600000, zone)]
    .filter((t) => dateKey(new Date(t), zone) === key)
    .sort((a, b) => a - b);
  return new Date(candidates.length ? candidates[0] : second);
}

/** The instant a wall-clock time ("HH:MM") of a day key has in a zone (a time in a DST gap moves forward). */
export function wallTime(key, hhmm, zone) {
  const [y, m, d] = key.split("-").map(Number);
  const [h, mi] = hhmm.split(":").map(Number);
  const wall = Date.UTC(y, m - 1, d, h, mi);
  const first = wall - offsetMs(wall, zone);
  return new Date(wall - offsetMs(first, zone));
}

/** A day key moved by n days. */
export function addDays(key, n) {
  const [y, m, d] = key.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d + n)).toISOString().slice(0, 10);
}

/** Noon UTC of a day key: a Date to format the day itself with timeZone UTC. */
function keyDate(key) {
  const [y, m, d] = key.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d, 12));
}

/** RFC 3339 in UTC, whole seconds: what the API's query parameters take. */
export function rfc3339(instant) {
  const ms = Math.floor(asDate(instant).getTime() / 1000) * 1000;
  return new Date(ms).toISOString().replace(".000Z", "Z");
}

/** "Mon" */
export function weekdayShort(key) {
  return formatter(undefined, { weekday: "short", timeZone: "UTC" }).format(keyDate(key));
}

/** "2" */
export function dayOfMonth(key) {
  return String(Number(key.slice(8, 10)));
}

/** "Mar" */
export function monthShort(key) {
  return formatter(undefined, { month: "short", timeZone: "UTC" }).format(keyDate(key));
}

/** "Monday, 2 March" (with the year when it is not this year's). */
export function dayLong(key, withYear = key.slice(0, 4) !== String(new Date().getFullYear())) {
  const options = { weekday: "long", day: "numeric", month: "long", timeZone: "UTC" };
  if (withYear) options.year = "numeric";
  return formatter(undefined, options).format(keyDate(key));
}

/** "2 – 8 Mar 2026": a run of day keys. */
export function dayRange(fromKey, toKey) {
  const f = formatter(undefined, { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
  return typeof f.formatRange === "function"
    ? f.formatRange(keyDate(fromKey), keyDate(toKey))
    : `${f.format(keyDate(fromKey))} – ${f.format(keyDate(toKey))}`;
}

/** "9:30 AM" / "09:30" in the zone, the way the reader's locale writes times. */
export function time(instant, zone) {
  return formatter(undefined, { hour: "numeric", minute: "2-digit", timeZone: zone }).format(asDate(instant));
}

/** "9:00 – 9:30 AM" in the zone. */
export function timeRange(start, end, zone) {
  const f = formatter(undefined, { hour: "numeric", minute: "2-digit", timeZone: zone });
  return typeof f.formatRange === "function"
    ? f.formatRange(asDate(start), asDate(end))
    : `${f.format(asDate(start))} – ${f.format(asDate(end))}`;
}

/** "Monday, 2 March 2026" for an instant in the zone. */
export function dateLong(instant, zone) {
  return formatter(undefined, { weekday: "long", day: "numeric", month: "long", year: "numeric", timeZone: zone })
    .format(asDate(instant));
}

/** "Mon, 2 Mar" for an instant in the zone. */
export function dateShort(instant, zone) {
  return formatter(undefined, { weekday: "short", day: "numeric", month: "short", timeZone: zone }).format(asDate(instant));
}

/** "GMT+1" for the zone at an instant. */
export function offsetName(zone, instant = new Date()) {
  for (const style of ["shortOffset", "short"]) {
    try {
      const part = formatter("en-US", { timeZone: zone, timeZoneName: style })
        .formatToParts(asDate(instant))
        .find((p) => p.type === "timeZoneName");
      if (part) return part.value;
    } catch {
      // shortOffset is newer than Intl itself: fall back to the short name.
    }
  }
  return "";
}

/** "America/New York" */
export function zoneName(zone) {
  return zone.replace(/_/g, " ");
}

/** "America/New York (GMT-5)" */
export function zoneLabel(zone, instant = new Date()) {
  const offset = offsetName(zone, instant);
  return offset ? `${zoneName(zone)} (${offset})` : zoneName(zone);
}

/** Whether two zones show the same wall clock at an instant. */
export function sameOffset(a, b, instant = new Date()) {
  const ms = asDate(instant).getTime();
  return a === b || offsetMs(ms, a) === offsetMs(ms, b);
}

/** "30 minutes", "1 hour", "1 h 30 min" */
export function duration(minutes) {
  if (!Number.isFinite(minutes) || minutes <= 0) return "";
  if (minutes < 60) return `${minutes} minutes`;
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  if (m === 0) return h === 1 ? "1 hour" : `${h} hours`;
  return `${h} h ${m} min`;
}

/** Fills a <select> with every zone Intl knows (plus UTC and the given ones), one selected. */
export function fillZoneSelect(select, selected, extra = []) {
  let zones = [];
  try {
    zones = Intl.supportedValuesOf("timeZone");
  } catch {
    zones = [];
  }
  const all = new Set(zones);
  for (const z of ["UTC", selected, detectedZone(), ...extra]) if (z && isZone(z)) all.add(z);
  const now = new Date();
  const options = [...all].sort((a, b) => a.localeCompare(b)).map((zone) => {
    const option = document.createElement("option");
    option.value = zone;
    // The chosen zone shows its offset at once; the others get theirs in small batches after
    // (an Intl formatter per zone costs ~100 ms for all of them on a laptop).
    option.textContent = zone === selected ? zoneLabel(zone, now) : zoneName(zone);
    if (zone === selected) option.selected = true;
    return option;
  });
  select.replaceChildren(...options);
  select.value = selected;
  let next = 0;
  const batch = () => {
    const end = Math.min(next + 40, options.length);
    for (; next < end; next++) options[next].textContent = zoneLabel(options[next].value, now);
    if (next < options.length) setTimeout(batch, 0);
  };
  setTimeout(batch, 0);
}

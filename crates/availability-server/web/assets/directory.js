// The directory for clients, /experts: experts by name, or those free today, this week, in the next
// 30 days or at one time, each with their next free time in the client's zone and a link to book.
// GET /api/v1/experts (by next free time, cursor-paged) and GET /api/v1/availability/search.
import { api, el, mountTopbar, requireSession } from "/assets/api.js";
import * as T from "/assets/time.js";

const $ = (id) => document.getElementById(id);
const form = $("search");
const results = $("results");
const more = $("more");
const zone = T.chosenZone();
const state = { cursor: null, query: null, seq: 0 };

function say(kind, ...content) {
  $("notice").replaceChildren(el("div", { class: `alert alert-${kind}` }, ...content));
}

function when() {
  return form.querySelector("input[name=when]:checked").value;
}

/** The question the form asks, as a path of the API (without cursor). */
function question() {
  const params = new URLSearchParams();
  const q = form.q.value.trim();
  if (q) params.set("q", q);
  const now = new Date();
  const today = T.todayKey(zone);
  const choice = when();
  if (choice === "at") {
    const day = $("at-date").value || today;
    const start = T.wallTime(day, $("at-clock").value || "09:00", zone);
    const end = new Date(start.getTime() + Number($("at-length").value) * 60000);
    params.set("start", T.rfc3339(start));
    params.set("end", T.rfc3339(end));
    return { path: `/api/v1/availability/search?${params}`, search: true, start };
  }
  const to = choice === "today" ? T.startOfDay(T.addDays(today, 1), zone)
    : choice === "week" ? T.startOfDay(T.addDays(today, 7), zone)
      : new Date(now.getTime() + 30 * 86400000);
  params.set("available_from", T.rfc3339(now));
  params.set("available_to", T.rfc3339(to));
  params.set("limit", "20");
  return { path: `/api/v1/experts?${params}`, search: false };
}

function expertItem(expert, start, end) {
  const name = el("h3", { id: `name-${expert.id}` }, expert.name);
  const lines = [name];
  if (start) {
    lines.push(el("p", { class: "next" }, el("span", { class: "muted" }, "Next free: "),
      el("strong", {}, `${T.dateShort(start, zone)}, ${T.timeRange(start, end, zone)}`)));
  }
  if (expert.slot_count) lines.push(el("p", { class: "muted small" }, `${expert.slot_count} open ${expert.slot_count === 1 ? "time" : "times"} in this period`));
  lines.push(el("p", { class: "muted small" }, `Works in ${T.zoneLabel(expert.timezone)}`));
  const book = el("a", {
    class: "btn btn-primary", href: `/book/${encodeURIComponent(expert.id)}`,
    "aria-describedby": `name-${expert.id}`, "data-expert": expert.id,
  }, "Book");
  return el("li", { class: "card person", "data-expert-id": expert.id }, el("div", {}, lines), book);
}

function showUnavailable(list) {
  const box = $("unavailable");
  if (!list || list.length === 0) return box.replaceChildren();
  box.replaceChildren(el("div", { class: "alert alert-warn" },
    el("p", {}, "Some experts' calendars can't be reached right now, so they are not listed. Try again in a minute:"),
    el("ul", {}, list.map((u) => el("li", {}, `${u.name}: ${u.reason}`)))));
}

async function run({ append = false } = {}) {
  const seq = ++state.seq;
  if (!append) state.query = question();
  const { path, search, start } = state.query;
  results.setAttribute("aria-busy", "true");
  more.hidden = true;
  try {
    const answer = await api("GET", append && state.cursor ? `${path}&cursor=${encodeURIComponent(state.cursor)}` : path);
    if (seq !== state.seq) return;
    if (!append) results.replaceChildren();
    for (const expert of answer.experts) {
      if (search) {
        const end = new Date(answer.end);
        results.append(expertItem(expert, start, end));
      } else {
        results.append(expertItem(expert, expert.next_slot && expert.next_slot.start, expert.next_slot && expert.next_slot.end));
      }
    }
    state.cursor = answer.next_cursor || null;
    more.hidden = !state.cursor;
    showUnavailable(answer.unavailable);
    const n = results.children.length;
    $("results-summary").textContent = n === 0
      ? "No expert is free then. Try another time or a longer period."
      : `${n} ${n === 1 ? "expert" : "experts"}${state.cursor ? " so far" : ""}, soonest free first.`;
    $("notice").replaceChildren();
  } catch (e) {
    if (seq === state.seq) say("error", e.message);
  } finally {
    if (seq === state.seq) results.setAttribute("aria-busy", "false");
  }
}

form.addEventListener("change", (event) => {
  if (event.target.name === "when") {
    $("at-time").hidden = when() !== "at";
    run();
  }
});
form.addEventListener("submit", (event) => {
  event.preventDefault();
  run().then(() => $("results-title").focus());
});
more.addEventListener("click", () => run({ append: true }));

async function start() {
  const session = await requireSession();
  mountTopbar(session, (e) => say("error", e.message));
  $("at-date").value = T.todayKey(zone);
  $("zone-line").textContent = `Times are in your time zone, ${T.zoneLabel(zone)}.`;
  const preset = new URLSearchParams(location.search).get("when");
  const radio = preset && form.querySelector(`input[name=when][value="${CSS.escape(preset)}"]`);
  if (radio) {
    radio.checked = true;
    $("at-time").hidden = when() !== "at";
  }
  await run();
}

start()
  .catch((e) => say("error", e.message))
  .finally(() => {
    document.body.dataset.ready = "true";
  });

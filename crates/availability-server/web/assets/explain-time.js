// "Why can't clients book a time?" on the expert's agenda: the expert picks a day and a time in
// their zone, and the server's explanation (GET .../availability/explain: the same engine,
// appointments and calendar as the slots) lists every reason it is not bookable.
import { api, el } from "/assets/api.js";
import * as T from "/assets/time.js";

function field(id, label, input) {
  return el("div", { class: "field" }, el("label", { for: id }, label), input);
}

/** Draws the tool into `box`; `zone()` is the expert's time zone as the page has it now. */
export function mount(box, base, zone) {
  const date = el("input", { id: "why-date", type: "date", required: true, value: T.addDays(T.todayKey(zone()), 1) });
  const time = el("input", { id: "why-time", type: "time", required: true, value: "10:00" });
  const result = el("div", { id: "why-result", "aria-live": "polite" });
  const form = el("form", { class: "row why-form" },
    field("why-date", "Day", date), field("why-time", "Time", time),
    el("button", { class: "btn", type: "submit", id: "why-go" }, "Explain"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!date.value || !time.value) return;
    const start = T.rfc3339(T.wallTime(date.value, time.value, zone()));
    result.setAttribute("aria-busy", "true");
    try {
      const answer = await api("GET", `${base}/availability/explain?start=${encodeURIComponent(start)}`);
      result.replaceChildren(answer.bookable
        ? el("p", { class: "alert alert-ok", "data-bookable": "true" }, "Clients can book this time.")
        : el("ul", { class: "why-reasons" }, ...answer.reasons.map((r) => el("li", { "data-code": r.code }, r.message))));
    } catch (e) {
      result.replaceChildren(el("p", { class: "alert alert-error" }, `That time couldn't be explained: ${e.message}`));
    } finally {
      result.setAttribute("aria-busy", "false");
    }
  });
  box.replaceChildren(form, result);
}

// The integration selector and the three calendar panels (GoogleCalendarPanel,
// Office365CalendarPanel, CalendlyPanel): connect by OAuth (or a Calendly token), choose what the
// connected account is used for, reconnect, disconnect.
import { api, ApiError, el } from "/assets/api.js";
import { explain, nextId, say, when } from "/assets/manage-util.js";

export const NAMES = {
  manual: "Your hours only",
  google_calendar: "Google Calendar",
  office365_calendar: "Office 365",
  calendly: "Calendly",
};
const DESCRIPTIONS = {
  manual: "Clients book the free times of your weekly hours and overrides.",
  google_calendar: "Your hours minus the busy times in your Google calendars; appointments are added there.",
  office365_calendar: "Your hours minus the busy times in Outlook; appointments are added there.",
  calendly: "Clients book the free times of one Calendly event type; Calendly's own hours apply.",
};
const STATUS_TEXT = { connected: "Connected", disconnected: "Not connected", needs_reauth: "Needs reconnecting" };
const STATUS_BADGE = { connected: "badge badge-ok", disconnected: "badge", needs_reauth: "badge badge-warn" };
const TYPES = ["google_calendar", "office365_calendar", "calendly"];

const notYet = (e) => e instanceof ApiError && e.status === 404 && e.code === "not_found";

export class Calendars {
  /** onActive(type) runs when the active integration changed (the preview depends on it). */
  constructor(expertId, onActive, onWorkingHours) {
    this.expertId = expertId;
    this.base = `/api/v1/experts/${encodeURIComponent(expertId)}`;
    this.onActive = onActive;
    this.onWorkingHours = onWorkingHours;
    this.list = [];
    this.active = "manual";
    this.selected = null;
    this.panelErrors = {};
    this.openPicker = false; // open Calendly's event type picker after an OAuth connect
    this.fieldset = document.getElementById("integration");
    this.help = document.getElementById("integration-help");
    this.fieldset.addEventListener("change", (event) => {
      if (event.target.name === "integration") {
        this.selected = event.target.value;
        this.renderHelp();
      }
    });
  }

  byType(type) {
    return this.list.find((i) => i.type === type) || { type, status: "disconnected" };
  }

  async load(active) {
    if (active) this.active = active;
    try {
      this.list = await api("GET", `${this.base}/integrations`);
      const on = this.list.find((i) => i.active);
      if (on) this.active = on.type;
    } catch (e) {
      this.list = [];
      for (const type of TYPES) this.panel(type).replaceChildren(this.heading(type), el("div", { class: "alert alert-error" }, explain(e, "Loading your calendar connections")));
      say("error", explain(e, "Loading your calendar connections"), { label: "Retry", run: () => this.load() });
      this.renderSelector();
      return;
    }
    this.renderSelector();
    for (const type of TYPES) this.renderPanel(type);
  }

  // ---- The selector

  renderSelector() {
    const legend = this.fieldset.querySelector("legend");
    const options = ["manual", ...TYPES].map((type) => {
      const info = type === "manual" ? null : this.byType(type);
      const id = `integration-${type}`;
      return el("label", { class: `choice${type === this.active ? " is-active" : ""}`, for: id },
        el("input", { type: "radio", name: "integration", id, value: type, checked: type === (this.selected || this.active) }),
        el("span", { class: "choice-body" },
          el("span", { class: "choice-name" }, NAMES[type]),
          el("span", { class: "choice-badges" },
            type === this.active ? el("span", { class: "badge badge-active" }, "In use") : null,
            info ? el("span", { class: STATUS_BADGE[info.status] || "badge" }, STATUS_TEXT[info.status] || info.status) : null),
          el("span", { class: "choice-desc small muted" }, DESCRIPTIONS[type])));
    });
    this.fieldset.replaceChildren(legend, ...options);
    this.renderHelp();
  }

  renderHelp() {
    const type = this.selected || this.active;
    if (type === this.active) {
      this.help.replaceChildren(el("p", { class: "muted small" }, `In use: ${NAMES[type]}. Choose another option to switch.`));
      return;
    }
    const info = type === "manual" ? { status: "connected" } : this.byType(type);
    const goTo = el("button", { class: "btn", type: "button" }, `Go to ${NAMES[type]}`);
    goTo.addEventListener("click", () => this.focusPanel(type));
    if (info.status === "disconnected") {
      this.help.replaceChildren(el("div", { class: "alert alert-info help-row" },
        el("p", {}, `${NAMES[type]} is not connected yet. Connect it first (below), then choose it here.`), goTo));
      return;
    }
    const use = el("button", { class: "btn btn-primary", type: "button", id: "use-integration" }, `Use ${NAMES[type]}`);
    use.addEventListener("click", () => this.use(type, use));
    const parts = [use];
    if (info.status === "needs_reauth") {
      parts.unshift(el("p", { class: "alert alert-warn" }, `${NAMES[type]} needs reconnecting: until you reconnect it, clients cannot see or book your times.`), goTo);
    }
    this.help.replaceChildren(el("div", { class: "row help-row" }, ...parts));
  }

  async use(type, button) {
    button.disabled = true;
    try {
      await api("PUT", `${this.base}/integration`, { integration_type: type });
      this.active = type;
      this.selected = null;
      say("ok", type === "manual"
        ? "Saved: clients now book the free times of your own hours."
        : `Saved: ${NAMES[type]} is now in use. ${DESCRIPTIONS[type]}`);
      await this.load(type);
      this.onActive(type);
    } catch (e) {
      button.disabled = false;
      if (e.code === "integration_not_connected") {
        say("error", `${e.message}. Connect ${NAMES[type]} below first.`, { label: `Go to ${NAMES[type]}`, run: () => this.focusPanel(type) });
      } else {
        say("error", explain(e, `Switching to ${NAMES[type]}`));
      }
    }
  }

  focusPanel(type) {
    const panel = this.panel(type);
    panel.scrollIntoView({ behavior: "smooth", block: "start" });
    const target = panel.querySelector(".connect, .reconnect, button, input");
    if (target) target.focus({ preventScroll: true });
  }

  // ---- Panels

  panel(type) {
    return document.getElementById(`panel-${type}`);
  }

  heading(type) {
    const info = this.byType(type);
    return el("div", { class: "panel-head" },
      el("h3", { id: `panel-${type}-title` }, NAMES[type]),
      el("span", { class: "panel-badges" },
        info.active ? el("span", { class: "badge badge-active" }, "In use") : null,
        el("span", { class: `status ${STATUS_BADGE[info.status] || "badge"}` }, STATUS_TEXT[info.status] || info.status || "Unknown")));
  }

  renderPanel(type) {
    const info = this.byType(type);
    const parts = [this.heading(type)];
    if (this.panelErrors[type]) parts.push(el("div", { class: "alert alert-error panel-error" }, this.panelErrors[type]));
    if (info.status === "needs_reauth") {
      parts.push(el("div", { class: "alert alert-warn" },
        el("p", {}, el("strong", {}, `${NAMES[type]} stopped working. `),
          info.active ? "Until you reconnect it, clients cannot see or book your times." : "Reconnect it before you use it."),
        info.last_error ? el("p", { class: "small" }, `Reason: ${info.last_error}${info.last_error_at ? ` (${when(info.last_error_at)})` : ""}`) : null));
    }
    if (info.status !== "disconnected") parts.push(this.details(info));
    if (type === "google_calendar" && info.status === "connected") parts.push(this.googleCalendars());
    if (type === "office365_calendar" && info.status === "connected") {
      parts.push(el("p", { class: "small" }, "Busy times come from your default Outlook calendar, and new appointments are added to it."));
      parts.push(this.workingHoursButton());
    }
    if (type === "calendly" && info.status !== "disconnected") parts.push(this.calendlyEventType(info));
    if (info.status === "disconnected") {
      parts.push(el("p", { class: "small muted" }, DESCRIPTIONS[type]));
      if (type === "calendly") {
        parts.push(this.connectButton(type, "Connect with Calendly"), this.calendlyTokenForm());
      } else {
        parts.push(this.connectButton(type, `Connect ${NAMES[type]}`));
      }
    } else {
      const actions = el("div", { class: "row panel-actions" });
      if (info.status === "needs_reauth") actions.append(this.connectButton(type, `Reconnect ${NAMES[type]}`, "reconnect"));
      actions.append(this.disconnectButton(type, actions));
      parts.push(actions);
      if (type === "calendly" && info.status === "needs_reauth") parts.push(this.calendlyTokenForm());
    }
    this.panel(type).replaceChildren(...parts);
  }

  details(info) {
    const rows = [];
    if (info.account) rows.push(["Account", info.account]);
    if (info.connected_at) rows.push(["Connected", when(info.connected_at)]);
    if (info.last_synced_at) rows.push(["Last checked", when(info.last_synced_at)]);
    if (rows.length === 0) return null;
    return el("dl", { class: "facts" }, rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  }

  /** Copies Outlook's working hours into the weekly editor (nothing is saved until Save). */
  workingHoursButton() {
    const button = el("button", { class: "btn use-working-hours", type: "button" }, "Use my Outlook working hours");
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const hours = await api("GET", `${this.base}/integrations/office365_calendar/working_hours`);
        this.onWorkingHours(hours);
      } catch (e) {
        say("error", e.code === "working_hours_unavailable"
          ? "Microsoft reports no working hours for this account (personal Outlook accounts have none). Type your hours below."
          : explain(e, "Reading your Outlook working hours"));
      } finally {
        button.disabled = false;
      }
    });
    return el("p", {}, button);
  }

  connectButton(type, label, extra = "connect") {
    const button = el("button", { class: `btn btn-primary ${extra}`, type: "button" }, label);
    button.addEventListener("click", async () => {
      button.disabled = true;
      button.textContent = "Opening…";
      try {
        const { authorization_url: url } = await api("POST", `${this.base}/integrations/${type}/connect`, {});
        location.assign(url);
      } catch (e) {
        button.disabled = false;
        button.textContent = label;
        const text = e.code === "integration_unavailable"
          ? `${e.message}. Ask whoever runs this server to set it up${type === "calendly" ? ", or connect with a personal access token below" : ""}.`
          : explain(e, `Connecting ${NAMES[type]}`);
        this.panelErrors[type] = text;
        this.renderPanel(type);
        say("error", text);
      }
    });
    return button;
  }

  disconnectButton(type, actions) {
    const button = el("button", { class: "btn btn-danger disconnect", type: "button" }, "Disconnect");
    button.addEventListener("click", () => {
      const info = this.byType(type);
      const yes = el("button", { class: "btn btn-danger confirm-disconnect", type: "button" }, "Yes, disconnect");
      const no = el("button", { class: "btn cancel-disconnect", type: "button" }, "Cancel");
      const box = el("div", { class: "alert alert-warn confirm", role: "group", "aria-label": `Disconnect ${NAMES[type]}?` },
        el("p", {}, `Disconnect ${NAMES[type]}? `, info.active
          ? "It is in use: your slots will come from your own hours only. "
          : "", "Events already in your calendar stay there."),
        el("div", { class: "row" }, yes, no));
      actions.replaceWith(box);
      no.focus();
      no.addEventListener("click", () => {
        box.replaceWith(actions);
        button.focus();
      });
      yes.addEventListener("click", async () => {
        yes.disabled = true;
        try {
          await api("DELETE", `${this.base}/integrations/${type}`);
          delete this.panelErrors[type];
          say("ok", `${NAMES[type]} is disconnected.${info.active ? " Your slots now come from your own hours." : ""}`);
          await this.load();
          if (info.active) this.onActive("manual");
          const connect = this.panel(type).querySelector(".connect");
          if (connect) connect.focus();
        } catch (e) {
          yes.disabled = false;
          say("error", explain(e, `Disconnecting ${NAMES[type]}`), { label: "Retry", run: () => yes.click() });
        }
      });
    });
    return button;
  }

  // ---- Google: which calendars block time, which one receives appointments

  googleCalendars() {
    const box = el("div", { class: "sub", "aria-busy": "true" }, el("p", { class: "muted small" }, "Loading your calendars…"));
    this.fillGoogleCalendars(box);
    return box;
  }

  async fillGoogleCalendars(box) {
    let calendars;
    try {
      ({ calendars } = await api("GET", `${this.base}/integrations/google_calendar/calendars`));
    } catch (e) {
      box.setAttribute("aria-busy", "false");
      if (notYet(e)) {
        box.replaceChildren(el("p", { class: "small muted" }, "Busy times come from your primary Google calendar, and appointments are added to it. (Choosing other calendars is not available on this server yet.)"));
      } else {
        const retry = el("button", { class: "btn btn-small", type: "button" }, "Try again");
        retry.addEventListener("click", () => {
          box.replaceChildren(el("p", { class: "muted small" }, "Loading your calendars…"));
          this.fillGoogleCalendars(box);
        });
        box.replaceChildren(el("div", { class: "alert alert-error" }, el("p", {}, explain(e, "Loading your Google calendars")), retry));
      }
      return;
    }
    box.setAttribute("aria-busy", "false");
    box.replaceChildren(this.googleForm(calendars));
  }

  googleForm(calendars) {
    const form = el("form", { class: "google-calendars", novalidate: true });
    const busy = el("fieldset", { class: "stack-tight" }, el("legend", {}, "Calendars that block your time"),
      calendars.length === 0 ? el("p", { class: "muted small" }, "No calendars found in this account.") : null,
      calendars.map((c) => {
        const id = nextId("gcal");
        return el("label", { class: "inline-choice", for: id },
          el("input", { id, type: "checkbox", name: "busy", value: c.id, checked: Boolean(c.blocks_time) }),
          c.summary || c.id, c.primary ? el("span", { class: "badge" }, "Primary") : null);
      }));
    const writable = calendars.filter((c) => !c.access_role || c.access_role === "owner" || c.access_role === "writer");
    const selectId = nextId("gcal-target");
    const target = el("select", { id: selectId, name: "event_calendar_id" },
      writable.map((c) => el("option", { value: c.id, selected: Boolean(c.receives_events) }, c.summary || c.id)));
    const save = el("button", { class: "btn btn-primary save-calendars", type: "submit" }, "Save calendars");
    form.append(busy,
      el("div", { class: "field" }, el("label", { for: selectId }, "New appointments go to",
        el("span", { class: "hint" }, " A calendar you can write to.")), target),
      save);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const busyIds = [...form.querySelectorAll("input[name=busy]:checked")].map((b) => b.value);
      save.disabled = true;
      try {
        const answer = await api("PUT", `${this.base}/integrations/google_calendar/calendars`, { busy_calendar_ids: busyIds, event_calendar_id: target.value });
        form.replaceWith(this.googleForm(answer.calendars || calendars));
        say("ok", busyIds.length
          ? "Saved your Google calendars."
          : "Saved your Google calendars. No calendar blocks your time now: clients see all of your hours as free.");
        this.onActive(this.active);
      } catch (e) {
        save.disabled = false;
        say("error", explain(e, "Saving your Google calendars"));
      }
    });
    return form;
  }

  // ---- Calendly: the event type whose free times are the slots

  calendlyEventType(info) {
    const box = el("div", { class: "sub calendly-event" });
    const show = () => {
      const chosen = info.event_type;
      const change = el("button", { class: "btn btn-small change-event-type", type: "button" }, chosen ? "Change event type" : "Choose an event type");
      change.addEventListener("click", () => this.pickConnectedEventType(box, info, show));
      box.replaceChildren(
        chosen
          ? el("p", { class: "event-type" }, "Event type: ", el("strong", {}, chosen.name || chosen.uri),
            chosen.duration_minutes ? ` (${chosen.duration_minutes} min)` : "")
          : info.event_type === null
            ? el("p", { class: "alert alert-warn" }, "No event type chosen yet: choose the one clients book.")
            : null,
        info.status === "connected" ? change : null);
    };
    show();
    if (this.openPicker && info.status === "connected") {
      this.openPicker = false;
      this.pickConnectedEventType(box, info, show);
    }
    return box;
  }

  async pickConnectedEventType(box, info, back) {
    box.replaceChildren(el("p", { class: "muted small" }, "Loading your event types…"));
    let types;
    try {
      ({ event_types: types } = await api("GET", `${this.base}/integrations/calendly/event_types`));
    } catch (e) {
      const text = notYet(e) ? "Choosing the event type here is not available on this server yet." : explain(e, "Loading your Calendly event types");
      const retry = el("button", { class: "btn btn-small", type: "button" }, "Back");
      retry.addEventListener("click", back);
      box.replaceChildren(el("div", { class: "alert alert-error" }, el("p", {}, text), retry));
      return;
    }
    const picker = eventTypePicker(types, info.event_type && info.event_type.uri);
    const save = el("button", { class: "btn btn-primary", type: "submit" }, "Use this event type");
    const cancel = el("button", { class: "btn", type: "button" }, "Cancel");
    cancel.addEventListener("click", back);
    const form = el("form", { class: "stack-tight", novalidate: true }, picker.node, types.length ? el("div", { class: "row" }, save, cancel) : cancel);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const uri = picker.value();
      if (!uri) {
        say("error", "Choose an event type first.");
        return;
      }
      save.disabled = true;
      try {
        await api("PUT", `${this.base}/integrations/calendly`, { event_type_uri: uri });
        const name = types.find((t) => t.uri === uri).name;
        say("ok", this.active === "calendly"
          ? `Saved: clients now book “${name}”.`
          : `Saved: Calendly will offer “${name}” once you choose Calendly under “Where your free time comes from”.`);
        await this.load();
        this.onActive(this.active);
      } catch (e) {
        save.disabled = false;
        say("error", explain(e, "Choosing the event type"));
      }
    });
    box.replaceChildren(form);
    const first = form.querySelector("input");
    if (first) first.focus();
  }

  calendlyTokenForm() {
    const tokenId = nextId("calendly-token");
    const token = el("input", { id: tokenId, name: "personal_access_token", type: "password", autocomplete: "off", spellcheck: "false", required: true });
    const find = el("button", { class: "btn find-event-types", type: "submit" }, "Find my event types");
    const step2 = el("div", { class: "token-step2" });
    const form = el("form", { class: "sub calendly-token", novalidate: true },
      el("h4", {}, "Or connect with a personal access token"),
      el("div", { class: "field" },
        el("label", { for: tokenId }, "Personal access token",
          el("span", { class: "hint" }, " Create one in Calendly under Integrations → API & Webhooks. It is stored encrypted.")),
        token),
      find, step2);
    let types = null;
    token.addEventListener("input", () => {
      types = null;
      step2.replaceChildren();
      find.hidden = false;
    });
    const connect = async (eventTypeUri, button) => {
      button.disabled = true;
      try {
        const body = { personal_access_token: token.value.trim() };
        if (eventTypeUri) body.event_type_uri = eventTypeUri;
        await api("PUT", `${this.base}/integrations/calendly`, body);
        delete this.panelErrors.calendly;
        say("ok", "Calendly is connected. Choose it under “Where your free time comes from” to use it.");
        await this.load();
      } catch (e) {
        button.disabled = false;
        if (e.code === "invalid_token") {
          token.setAttribute("aria-invalid", "true");
          say("error", `Calendly did not accept that token (${e.message}). Copy it again from Calendly and retry.`);
          token.focus();
        } else {
          say("error", explain(e, "Connecting Calendly"));
        }
      }
    };
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!token.value.trim()) {
        token.setAttribute("aria-invalid", "true");
        say("error", "Paste your Calendly personal access token first.");
        token.focus();
        return;
      }
      token.setAttribute("aria-invalid", "false");
      if (types) return;
      find.disabled = true;
      try {
        ({ event_types: types } = await api("POST", `${this.base}/integrations/calendly/event_types`, { personal_access_token: token.value.trim() }));
      } catch (e) {
        find.disabled = false;
        if (notYet(e)) {
          say("error", "Listing Calendly event types is not available on this server yet. Connect with Calendly (OAuth) instead.");
        } else if (e.code === "invalid_token") {
          token.setAttribute("aria-invalid", "true");
          say("error", `Calendly did not accept that token (${e.message}). Copy it again from Calendly and retry.`);
          token.focus();
        } else {
          say("error", explain(e, "Checking the token with Calendly"));
        }
        return;
      }
      find.disabled = false;
      find.hidden = true;
      const picker = eventTypePicker(types, types.length === 1 ? types[0].uri : null);
      const go = el("button", { class: "btn btn-primary connect-token", type: "button" }, "Connect Calendly");
      go.addEventListener("click", () => {
        const uri = picker.value();
        if (!uri) {
          say("error", "Choose the event type clients will book.");
          return;
        }
        connect(uri, go);
      });
      step2.replaceChildren(picker.node, types.length ? go : null);
      const first = step2.querySelector("input");
      if (first) first.focus();
    });
    return form;
  }
}

/** Radio buttons for Calendly event types; value() is the chosen URI. */
function eventTypePicker(types, current) {
  const name = nextId("event-type");
  if (types.length === 0) {
    return {
      node: el("p", { class: "alert alert-warn" }, "This Calendly account has no active event types. Create one in Calendly, then try again."),
      value: () => null,
    };
  }
  const node = el("fieldset", { class: "event-types" }, el("legend", {}, "Event type clients book"),
    types.map((t) => {
      const id = nextId("et");
      return el("label", { class: "inline-choice event-type-choice", for: id },
        el("input", { id, type: "radio", name, value: t.uri, checked: t.uri === current }),
        el("span", {}, t.name, el("span", { class: "muted small" }, ` · ${t.duration_minutes} min`)));
    }));
  return { node, value: () => (node.querySelector("input:checked") || {}).value || null };
}

// One calendar connection panel, drawn from its provider's descriptor (GET /api/v1/providers):
// the OAuth connect, a form built from the credential fields, reconnect, disconnect, the account
// and the last error, and what the provider's features offer once connected: a choice of
// calendars, an event type, its working hours. No provider is named here.
import { api, el } from "/assets/api.js";
import { STATUS_BADGE, STATUS_TEXT, explain, factList, liveUpdates, nextId, say, when } from "/assets/manage-util.js";

/** The field an event type picker fills: the API's name for the chosen event type. */
const EVENT_TYPE_FIELD = "event_type_uri";

/** "a", "a and b", "a, b and c". */
const words = (list) => (list.length < 2 ? list.join("") : `${list.slice(0, -1).join(", ")} and ${list[list.length - 1]}`);

/** Text with its web addresses as links (help text of a field). */
function linked(text) {
  return text.split(/(https?:\/\/[^\s]*[^\s.,;:)])/).map((part, i) => (i % 2
    ? el("a", { href: part, target: "_blank", rel: "noopener noreferrer" }, part)
    : part));
}

/**
 * The panel of one provider. `host` is the page's integrations: base (the expert's API path),
 * info(type), active, load(), onActive(type), openPicker.
 */
export class Panel {
  constructor(provider, host) {
    this.p = provider;
    this.host = host;
    this.type = provider.integration_type;
    this.name = provider.display_name;
    this.path = `${host.base}/integrations/${encodeURIComponent(this.type)}`;
    this.error = "";
    this.node = el("section", { class: "card panel", id: `panel-${this.type}`, "aria-labelledby": `panel-${this.type}-title` });
  }

  get features() {
    return this.p.features || {};
  }

  /** The fields the expert types (an event type is picked from a list instead). */
  fields() {
    return (this.p.credential_fields || []).filter((f) => !(this.features.event_types && f.name === EVENT_TYPE_FIELD));
  }

  heading(info) {
    const off = !this.p.available && info.status === "disconnected";
    return el("div", { class: "panel-head" },
      el("h3", { id: `panel-${this.type}-title` }, this.name),
      el("span", { class: "panel-badges" },
        info.active ? el("span", { class: "badge badge-active" }, "In use") : null,
        el("span", { class: `status ${off ? "badge" : STATUS_BADGE[info.status] || "badge"}` },
          off ? "Not available" : STATUS_TEXT[info.status] || info.status || "Unknown")));
  }

  /** Shows an error in the panel until the next success. */
  fail(text) {
    this.error = text;
    this.render();
    say("error", text);
  }

  render() {
    const { name, features } = this;
    const info = this.host.info(this.type);
    const on = info.status !== "disconnected";
    const caps = this.p.capabilities || {};
    const fields = this.fields();
    const parts = [this.heading(info)];
    if (this.error) parts.push(el("div", { class: "alert alert-error panel-error" }, this.error));
    if (info.status === "needs_reauth") {
      parts.push(el("div", { class: "alert alert-warn" },
        el("p", {}, el("strong", {}, `${name} stopped working. `),
          info.active ? "Until you reconnect it, clients cannot see or book your times." : "Reconnect it before you use it."),
        info.last_error ? el("p", { class: "small" }, `Reason: ${info.last_error}${info.last_error_at ? ` (${when(info.last_error_at)})` : ""}`) : null));
    }
    if (on) parts.push(facts(info, name));
    if (info.status === "connected") {
      if (features.calendars) parts.push(this.calendars());
      else if (caps.reads_busy_time && caps.writes_events && !caps.provider_slots) {
        parts.push(el("p", { class: "small" }, `Busy times come from your default ${name} calendar, and new appointments are added to it.`));
      }
      if (features.working_hours) parts.push(this.workingHoursButton());
    }
    if (on && features.event_types) parts.push(this.eventType(info));
    if (!on) {
      parts.push(el("p", { class: "small muted" }, this.p.description));
      if (!this.p.available) {
        parts.push(el("p", { class: "alert alert-info unavailable" }, `${(this.p.unavailable_reason || "Not available on this server").replace(/\.$/, "")}.`));
      } else {
        if (this.p.oauth) parts.push(this.oauthButton(fields.length ? `Connect with ${name}` : `Connect ${name}`, "connect"));
        if (fields.length) parts.push(this.form(false));
      }
    } else {
      const actions = el("div", { class: "row panel-actions" });
      if (info.status === "needs_reauth" && this.p.oauth) actions.append(this.oauthButton(`Reconnect ${name}`, "reconnect"));
      actions.append(this.disconnectButton(actions));
      parts.push(actions);
      if (info.status === "needs_reauth" && fields.length && this.p.available) parts.push(this.form(true));
    }
    this.node.replaceChildren(...parts.filter(Boolean));
  }

  // ---- Connecting

  oauthButton(label, kind) {
    const button = el("button", { class: `btn btn-primary ${kind}`, type: "button" }, label);
    button.addEventListener("click", async () => {
      button.disabled = true;
      button.textContent = "Opening…";
      try {
        const { authorization_url: url } = await api("POST", `${this.path}/connect`, {});
        location.assign(url);
      } catch (e) {
        button.disabled = false;
        button.textContent = label;
        this.fail(e.code === "integration_unavailable"
          ? `${e.message}. Ask whoever runs this server to set it up${this.fields().length ? ", or use the form below" : ""}.`
          : explain(e, `Connecting ${this.name}`));
      }
    });
    return button;
  }

  /** A field of the connect form: label, input, help, and a preset picker where it has presets. */
  field(f, inputs) {
    const id = nextId(`field-${f.name}`);
    const input = el("input", {
      id, name: f.name, type: f.secret ? "password" : "text", autocomplete: "off", spellcheck: "false",
      autocapitalize: "none", required: true, placeholder: f.placeholder, "aria-describedby": f.help || f.secret ? `${id}-hint` : undefined,
    });
    inputs.push(input);
    const box = el("div", { class: "field" });
    const presets = f.presets || [];
    if (presets.length) {
      const pickId = nextId("preset");
      const pick = el("select", { id: pickId, class: "preset", "data-field": f.name },
        el("option", { value: "" }, "Choose…"),
        presets.map((x, i) => el("option", { value: String(i) }, x.label)),
        el("option", { value: "other" }, "Other: type it in"));
      pick.addEventListener("change", () => {
        if (pick.value === "") return;
        const preset = presets[Number(pick.value)];
        input.value = preset ? preset.value : "";
        input.dispatchEvent(new Event("input", { bubbles: true }));
        input.focus();
        // A part to type over ("https://HOST/..."): selected, so typing replaces it.
        const blank = preset && /[A-Z]{3,}/.exec(preset.value);
        if (blank) input.setSelectionRange(blank.index, blank.index + blank[0].length);
      });
      input.addEventListener("input", () => {
        const i = presets.findIndex((x) => x.value === input.value.trim());
        if (i >= 0) pick.value = String(i);
      });
      box.append(el("div", { class: "preset-row" },
        el("label", { for: pickId }, "Service", el("span", { class: "hint" }, ` Fills in the ${f.label.toLowerCase()}.`)), pick));
    }
    box.append(el("label", { for: id }, f.label), input);
    if (f.help || f.secret) {
      box.append(el("p", { class: "hint small", id: `${id}-hint` },
        f.help ? linked(f.help) : null, f.secret ? `${f.help ? " " : ""}Stored encrypted, never shown again.` : null));
    }
    input.addEventListener("input", () => input.setAttribute("aria-invalid", "false"));
    return box;
  }

  /** The connect form built from the credential fields (and, for event types, a picker). */
  form(reconnect) {
    const { name, p } = this;
    const fields = this.fields();
    const picking = this.features.event_types;
    const label = `${reconnect ? "Reconnect" : "Connect"} ${name}`;
    const inputs = [];
    const form = el("form", { class: "sub fields-form", novalidate: true },
      p.oauth ? el("h4", {}, `Or connect with your ${words(fields.map((f) => f.label.toLowerCase()))}`) : null,
      fields.map((f) => this.field(f, inputs)));
    const problem = el("p", { class: "field-error form-error" });
    const submit = el("button", { class: picking ? "btn find-event-types" : `btn btn-primary connect-${p.connect}`, type: "submit" },
      picking ? "Find my event types" : label);
    const step2 = el("div", { class: "step2" });
    form.append(problem, submit, step2);
    const values = () => Object.fromEntries(inputs.map((i) => [i.name, i.value.trim()]));
    let types = null;
    form.addEventListener("input", (event) => {
      if (!inputs.includes(event.target)) return;
      problem.textContent = "";
      types = null;
      step2.replaceChildren();
      submit.hidden = false;
    });
    const refused = (e, what) => {
      const secrets = inputs.filter((i) => i.type === "password");
      let marked = [];
      let text;
      if (e.code === "invalid_credentials" || e.code === "invalid_token") {
        const these = inputs.length > 1 ? "these sign-in details" : `that ${fields[0].label.toLowerCase()}`;
        text = `${name} did not accept ${these} (${e.message}). Check ${inputs.length > 1 ? "them" : "it"} and try again; nothing was saved.`;
        marked = secrets;
      } else if (e.code === "discovery_failed") {
        const where = fields.find((f) => (f.presets || []).length) || fields[0];
        text = `No calendars were found at that ${where.label.toLowerCase()} (${e.message}). Check it and try again; nothing was saved.`;
        marked = inputs.filter((i) => i.name === where.name);
      } else {
        text = explain(e, what);
      }
      problem.textContent = text;
      say("error", text);
      marked.forEach((i) => i.setAttribute("aria-invalid", "true"));
      if (marked[0]) {
        marked[0].focus();
        marked[0].select();
      }
    };
    const connect = async (extra, button) => {
      button.disabled = true;
      try {
        await api("PUT", this.path, { ...values(), ...extra });
        this.error = "";
        say("ok", `${name} is connected.${this.host.active === this.type ? "" : " Choose it under “Where your free time comes from” to use it."}`);
        await this.host.load();
      } catch (e) {
        button.disabled = false;
        refused(e, `Connecting ${name}`);
      }
    };
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const empty = inputs.find((i) => !i.value.trim());
      if (empty) {
        empty.setAttribute("aria-invalid", "true");
        problem.textContent = `Fill in the ${fields[inputs.indexOf(empty)].label.toLowerCase()} first.`;
        say("error", problem.textContent);
        empty.focus();
        return;
      }
      if (!picking) {
        connect({}, submit);
        return;
      }
      if (types) return;
      submit.disabled = true;
      try {
        ({ event_types: types } = await api("POST", `${this.path}/event_types`, values()));
      } catch (e) {
        submit.disabled = false;
        refused(e, `Checking with ${name}`);
        return;
      }
      submit.disabled = false;
      submit.hidden = true;
      const picker = eventTypePicker(types, types.length === 1 ? types[0].uri : null, name);
      const go = el("button", { class: `btn btn-primary connect-${p.connect}`, type: "button" }, label);
      go.addEventListener("click", () => {
        const uri = picker.value();
        if (uri) connect({ [EVENT_TYPE_FIELD]: uri }, go);
        else say("error", "Choose the event type clients will book.");
      });
      step2.replaceChildren(picker.node, types.length ? go : null);
      const first = step2.querySelector("input");
      if (first) first.focus();
    });
    return form;
  }

  disconnectButton(actions) {
    const { name } = this;
    const button = el("button", { class: "btn btn-danger disconnect", type: "button" }, "Disconnect");
    button.addEventListener("click", () => {
      const info = this.host.info(this.type);
      const yes = el("button", { class: "btn btn-danger confirm-disconnect", type: "button" }, "Yes, disconnect");
      const no = el("button", { class: "btn cancel-disconnect", type: "button" }, "Cancel");
      const box = el("div", { class: "alert alert-warn confirm", role: "group", "aria-label": `Disconnect ${name}?` },
        el("p", {}, `Disconnect ${name}? `, info.active ? "It is in use: your slots will come from your own hours only. " : "",
          "Events already in your calendar stay there."),
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
          await api("DELETE", this.path);
          this.error = "";
          say("ok", `${name} is disconnected.${info.active ? " Your slots now come from your own hours." : ""}`);
          await this.host.load();
          if (info.active) this.host.onActive(this.host.active);
          const next = this.node.querySelector(".connect, input, button");
          if (next) next.focus();
        } catch (e) {
          yes.disabled = false;
          say("error", explain(e, `Disconnecting ${name}`), { label: "Retry", run: () => yes.click() });
        }
      });
    });
    return button;
  }

  // ---- Working hours: the provider's, opened in the manage page's weekly editor (saved only with Save)

  workingHoursButton() {
    return el("p", {}, el("a", { class: "btn use-working-hours", href: `manage?working_hours=${encodeURIComponent(this.type)}` },
      `Use my ${this.name} working hours`));
  }

  // ---- Calendars: which block time, which one receives appointments

  calendars() {
    const box = el("div", { class: "sub", "aria-busy": "true" }, el("p", { class: "muted small" }, "Loading your calendars…"));
    this.fillCalendars(box);
    return box;
  }

  async fillCalendars(box) {
    let calendars;
    try {
      ({ calendars } = await api("GET", `${this.path}/calendars`));
    } catch (e) {
      box.setAttribute("aria-busy", "false");
      const retry = el("button", { class: "btn btn-small", type: "button" }, "Try again");
      retry.addEventListener("click", () => {
        box.replaceChildren(el("p", { class: "muted small" }, "Loading your calendars…"));
        this.fillCalendars(box);
      });
      box.replaceChildren(el("div", { class: "alert alert-error" }, el("p", {}, explain(e, `Loading your ${this.name} calendars`)), retry));
      return;
    }
    box.setAttribute("aria-busy", "false");
    box.replaceChildren(this.calendarForm(calendars));
  }

  calendarForm(calendars) {
    const form = el("form", { class: "calendar-choice", novalidate: true });
    const busy = el("fieldset", { class: "stack-tight" }, el("legend", {}, "Calendars that block your time"),
      calendars.length === 0 ? el("p", { class: "muted small" }, "No calendars found in this account.") : null,
      calendars.map((c) => {
        const id = nextId("cal");
        return el("label", { class: "inline-choice", for: id },
          el("input", { id, type: "checkbox", name: "busy", value: c.id, checked: Boolean(c.blocks_time) }),
          c.summary || c.id, c.primary ? el("span", { class: "badge" }, "Primary") : null,
          c.read_only ? el("span", { class: "badge" }, "Read-only") : null);
      }));
    const writable = calendars.filter((c) => !c.read_only);
    const selectId = nextId("cal-target");
    const target = el("select", { id: selectId, name: "event_calendar_id" },
      writable.map((c) => el("option", { value: c.id, selected: Boolean(c.receives_events) }, c.summary || c.id)));
    const save = el("button", { class: "btn btn-primary save-calendars", type: "submit" }, "Save calendars");
    form.append(busy,
      writable.length
        ? el("div", { class: "field" }, el("label", { for: selectId }, "New appointments go to",
          el("span", { class: "hint" }, " A calendar you can write to (read-only ones cannot receive appointments).")), target)
        : el("p", { class: "alert alert-warn" }, "None of these calendars can receive appointments: they are all read-only."),
      save);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const busyIds = [...form.querySelectorAll("input[name=busy]:checked")].map((b) => b.value);
      save.disabled = true;
      try {
        const answer = await api("PUT", `${this.path}/calendars`, { busy_calendar_ids: busyIds, event_calendar_id: target.value });
        form.replaceWith(this.calendarForm(answer.calendars || calendars));
        say("ok", busyIds.length
          ? `Saved your ${this.name} calendars.`
          : `Saved your ${this.name} calendars. No calendar blocks your time now: clients see all of your hours as free.`);
        this.host.onActive(this.host.active);
      } catch (e) {
        save.disabled = false;
        say("error", explain(e, `Saving your ${this.name} calendars`));
      }
    });
    return form;
  }

  // ---- Event types: the one whose free times are the slots

  eventType(info) {
    const box = el("div", { class: "sub chosen-event-type" });
    const show = () => {
      const chosen = info.event_type;
      const change = el("button", { class: "btn btn-small change-event-type", type: "button" }, chosen ? "Change event type" : "Choose an event type");
      change.addEventListener("click", () => this.pickEventType(box, info, show));
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
    if (this.host.openPicker && info.status === "connected") {
      this.host.openPicker = false;
      this.pickEventType(box, info, show);
    }
    return box;
  }

  async pickEventType(box, info, back) {
    const { name } = this;
    box.replaceChildren(el("p", { class: "muted small" }, "Loading your event types…"));
    let types;
    try {
      ({ event_types: types } = await api("GET", `${this.path}/event_types`));
    } catch (e) {
      const retry = el("button", { class: "btn btn-small", type: "button" }, "Back");
      retry.addEventListener("click", back);
      box.replaceChildren(el("div", { class: "alert alert-error" }, el("p", {}, explain(e, `Loading your ${name} event types`)), retry));
      return;
    }
    const picker = eventTypePicker(types, info.event_type && info.event_type.uri, name);
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
        await api("PUT", this.path, { [EVENT_TYPE_FIELD]: uri });
        const chosen = types.find((t) => t.uri === uri).name;
        say("ok", this.host.active === this.type
          ? `Saved: clients now book “${chosen}”.`
          : `Saved: ${name} will offer “${chosen}” once you choose ${name} under “Where your free time comes from”.`);
        await this.host.load();
        this.host.onActive(this.host.active);
      } catch (e) {
        save.disabled = false;
        say("error", explain(e, "Choosing the event type"));
      }
    });
    box.replaceChildren(form);
    const first = form.querySelector("input");
    if (first) first.focus();
  }
}

/** Account, when connected, when last checked, live updates, and the last problem. */
function facts(info, name) {
  const rows = [];
  if (info.account) rows.push(["Account", info.account]);
  if (info.connected_at) rows.push(["Connected", when(info.connected_at)]);
  if (info.last_synced_at) rows.push(["Last checked", when(info.last_synced_at)]);
  const live = liveUpdates(info, name);
  if (live) rows.push(live);
  if (info.last_error && info.status === "connected") {
    rows.push(["Last problem", `${info.last_error}${info.last_error_at ? ` (${when(info.last_error_at)})` : ""}`]);
  }
  if (rows.length === 0) return null;
  return factList(rows);
}

/** Radio buttons for event types; value() is the chosen URI. */
function eventTypePicker(types, current, name) {
  const group = nextId("event-type");
  if (types.length === 0) {
    return {
      node: el("p", { class: "alert alert-warn" }, `This ${name} account has no active event types. Create one in ${name}, then try again.`),
      value: () => null,
    };
  }
  const node = el("fieldset", { class: "event-types" }, el("legend", {}, "Event type clients book"),
    types.map((t) => {
      const id = nextId("et");
      return el("label", { class: "inline-choice event-type-choice", for: id },
        el("input", { id, type: "radio", name: group, value: t.uri, checked: t.uri === current }),
        el("span", {}, t.name, el("span", { class: "muted small" }, ` · ${t.duration_minutes} min`)));
    }));
  return { node, value: () => (node.querySelector("input:checked") || {}).value || null };
}

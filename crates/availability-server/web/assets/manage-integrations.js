// The integration choice ("Where your free time comes from") and the connection panels, both
// drawn from the providers the server has registered (GET /api/v1/providers) and the expert's
// integrations (GET .../integrations): a provider added to the server gets its choice and its
// panel with no change here.
import { api, el } from "/assets/api.js";
import { Panel } from "/assets/manage-panel.js";
import { explain, say, statusBadge } from "/assets/manage-util.js";

export class Integrations {
  /** onActive(type) runs when the active integration (or what it uses) changed. */
  constructor(expertId, onActive = () => {}) {
    this.base = `/api/v1/experts/${encodeURIComponent(expertId)}`;
    this.onActive = onActive;
    this.providers = [];
    this.list = [];
    this.panels = new Map();
    this.active = null;
    this.selected = null;
    this.openPicker = false; // open the event type picker after an OAuth connect
    this.fieldset = document.getElementById("integration");
    this.help = document.getElementById("integration-help");
    this.container = document.getElementById("panels");
    this.fieldset.addEventListener("change", (event) => {
      if (event.target.name === "integration") {
        this.selected = event.target.value;
        this.renderHelp();
      }
    });
  }

  /** A provider's descriptor, or undefined. */
  provider(type) {
    return this.providers.find((p) => p.integration_type === type);
  }

  /** The name people know a provider by. */
  name(type) {
    const p = this.provider(type);
    return p ? p.display_name : type;
  }

  info(type) {
    return this.list.find((i) => i.type === type) || { type, status: "disconnected" };
  }

  /** Whether an integration type needs no connection (hours typed in). */
  typedIn(type) {
    const p = this.provider(type);
    return Boolean(p && p.connect === "none");
  }

  async load(active) {
    try {
      const [providers, list] = await Promise.all([
        this.providers.length ? this.providers : api("GET", "/api/v1/providers").then((a) => a.providers),
        api("GET", `${this.base}/integrations`),
      ]);
      this.providers = providers;
      this.list = list;
    } catch (e) {
      const text = explain(e, "Loading your calendar connections");
      this.container.replaceChildren(el("div", { class: "alert alert-error" }, text));
      say("error", text, { label: "Retry", run: () => this.load(active) });
      return;
    }
    const on = this.list.find((i) => i.active);
    const none = this.providers.find((p) => p.connect === "none");
    this.active = on ? on.type : active || (none ? none.integration_type : this.active);
    this.renderSelector();
    const shown = this.providers.filter((p) => p.connect !== "none").map((p) => {
      let panel = this.panels.get(p.integration_type);
      if (!panel) {
        panel = new Panel(p, this);
        this.panels.set(p.integration_type, panel);
      }
      panel.render();
      return panel.node;
    });
    this.container.replaceChildren(...shown);
  }

  /** The panel of a provider (after load). */
  panel(type) {
    return this.panels.get(type);
  }

  // ---- The selector

  renderSelector() {
    const legend = this.fieldset.querySelector("legend");
    const current = this.selected || this.active;
    const options = this.providers.map((p) => {
      const type = p.integration_type;
      const info = p.connect === "none" ? null : this.info(type);
      const off = !p.available && type !== this.active && (!info || info.status === "disconnected");
      const id = `integration-${type}`;
      return el("label", { class: `choice${type === this.active ? " is-active" : ""}${off ? " is-off" : ""}`, for: id },
        el("input", { type: "radio", name: "integration", id, value: type, checked: type === current, disabled: off }),
        el("span", { class: "choice-body" },
          el("span", { class: "choice-name" }, p.display_name),
          el("span", { class: "choice-badges" },
            type === this.active ? el("span", { class: "badge badge-active" }, "In use") : null,
            off ? el("span", { class: "badge" }, "Not available")
              : info ? statusBadge(info.status) : null),
          off ? el("span", { class: "choice-why small muted" }, p.unavailable_reason || "Not set up on this server.")
            : el("span", { class: "choice-desc small muted" }, p.description)));
    });
    this.fieldset.replaceChildren(legend, ...options);
    this.renderHelp();
  }

  renderHelp() {
    const type = this.selected || this.active;
    const name = this.name(type);
    if (type === this.active) {
      this.help.replaceChildren(el("p", { class: "muted small" }, `In use: ${name}. Choose another option to switch.`));
      return;
    }
    const info = this.typedIn(type) ? { status: "connected" } : this.info(type);
    const goTo = el("button", { class: "btn", type: "button" }, `Go to ${name}`);
    goTo.addEventListener("click", () => this.focusPanel(type));
    if (info.status === "disconnected") {
      this.help.replaceChildren(el("div", { class: "alert alert-info help-row" },
        el("p", {}, `${name} is not connected yet. Connect it first (below), then choose it here.`), goTo));
      return;
    }
    const use = el("button", { class: "btn btn-primary", type: "button", id: "use-integration" }, `Use ${name}`);
    use.addEventListener("click", () => this.use(type, use));
    const parts = [use];
    if (info.status === "needs_reauth") {
      parts.unshift(el("p", { class: "alert alert-warn" }, `${name} needs reconnecting: until you reconnect it, clients cannot see or book your times.`), goTo);
    }
    this.help.replaceChildren(el("div", { class: "row help-row" }, ...parts));
  }

  async use(type, button) {
    const name = this.name(type);
    button.disabled = true;
    try {
      await api("PUT", `${this.base}/integration`, { integration_type: type });
      this.selected = null;
      say("ok", this.typedIn(type)
        ? "Saved: clients now book the free times of your own hours."
        : `Saved: ${name} is now in use. ${this.provider(type).description}`);
      await this.load(type);
      this.onActive(this.active);
    } catch (e) {
      button.disabled = false;
      if (e.code === "integration_not_connected") {
        say("error", `${e.message}. Connect ${name} below first.`, { label: `Go to ${name}`, run: () => this.focusPanel(type) });
      } else {
        say("error", explain(e, `Switching to ${name}`));
      }
    }
  }

  focusPanel(type) {
    const panel = this.panel(type);
    if (!panel) return;
    panel.node.scrollIntoView({ behavior: "smooth", block: "start" });
    const target = panel.node.querySelector(".connect, .reconnect, button, input");
    if (target) target.focus({ preventScroll: true });
  }
}

// The expert's calendars (/experts/{id}/calendars): where their free time comes from (the
// integration choice) and one connection panel per provider the server has registered, with each
// connection's account, calendars, event type and live-update (push) state. The OAuth round trip
// of a connect comes back here (?connected= or ?error=).
import { api, mountTopbar, requireSession } from "/assets/api.js";
import { Integrations } from "/assets/manage-integrations.js";
import { explain, say } from "/assets/manage-util.js";

const expertId = decodeURIComponent(location.pathname.split("/")[2] || "");
const base = `/api/v1/experts/${encodeURIComponent(expertId)}`;
const $ = (id) => document.getElementById(id);

const integrations = new Integrations(expertId);

function fatal(title, text, action) {
  $("expert-name").textContent = title;
  $("expert-sub").textContent = text;
  $("content").hidden = true;
  say("error", text, action);
}

/** What the provider's sign-in page sent back: connected (maybe an event type to pick), or why not. */
function callbackNotice() {
  const params = new URLSearchParams(location.search);
  const connected = params.get("connected");
  const error = params.get("error");
  if (!connected && !error) return;
  history.replaceState(null, "", location.pathname);
  if (connected) {
    const name = integrations.name(connected);
    const provider = integrations.provider(connected);
    const info = integrations.info(connected);
    if (provider && provider.features.event_types && info.status === "connected" && !info.event_type && integrations.panel(connected)) {
      integrations.openPicker = true;
      integrations.panel(connected).render();
      say("ok", `${name} is connected. Now choose the event type clients book (in the ${name} panel).`);
    } else {
      say("ok", `${name} is connected.${integrations.active === connected ? "" : " Choose it under “Where your free time comes from” to use it."}`);
    }
  } else {
    say("error", error === "access_denied"
      ? "The calendar was not connected: access was not allowed. Connect again and allow access when you are ready."
      : `The calendar was not connected: the provider answered “${error}”. Try connecting again.`);
  }
}

async function start() {
  const session = await requireSession();
  mountTopbar(session, (e) => say("error", explain(e, "Signing out")));
  if (session.role === "client") {
    fatal("Not your page", "This page is for experts connecting their calendars. You are signed in as a client.");
    return;
  }
  let expert;
  try {
    expert = await api("GET", base);
  } catch (e) {
    const own = session.role === "expert" && session.expert_id && session.expert_id !== expertId
      ? { label: "Open your own page", run: () => location.assign(`/experts/${session.expert_id}/calendars`) } : undefined;
    if (e.status === 403) fatal("Not your page", "You can only manage your own calendars: this page belongs to another expert.", own);
    else if (e.status === 404 || e.status === 400) fatal("Expert not found", `There is no expert with the id “${expertId}”.`, own);
    else fatal("Could not load the page", explain(e, "Loading your calendars"), { label: "Retry", run: () => location.reload() });
    return;
  }
  $("expert-name").textContent = `${expert.name}: calendars`;
  $("expert-sub").textContent = "Connect the calendars your free time comes from, and choose the one clients book from.";
  if (session.role === "admin") $("expert-sub").textContent += " You are managing this expert as an admin.";
  document.title = `${expert.name} · Calendars`;
  $("content").hidden = false;
  await integrations.load(expert.integration_type);
  callbackNotice();
  // Sent here to reconnect or connect one (the manage page's links): that panel in view.
  const wanted = location.hash.match(/^#panel-(.+)$/);
  if (wanted) integrations.focusPanel(decodeURIComponent(wanted[1]));
}

start().catch((e) => say("error", explain(e, "Opening the page"), { label: "Retry", run: () => location.reload() }));

// The sign-in page: trades an API token for a session, then goes where the user was headed (or to
// the page their role starts on). Signed in already: says who, with the ways on.
import { api, el, loadSession, signIn, signOut } from "/assets/api.js";

const form = document.getElementById("sign-in");
const notice = document.getElementById("notice");
const signedIn = document.getElementById("signed-in");
const who = document.getElementById("who");

/**
 * Only a path on this site: never an open redirect to somewhere else. It must be a path ("/...");
 * control characters and backslashes are refused outright (browsers drop a tab, LF or CR and read
 * a backslash as "/", which turns "/<tab>/host" or "/\host" into another host); what is left is resolved
 * against this page's origin and followed only if it stays there. Anything else: null (the
 * default page).
 */
function nextPath() {
  const next = new URLSearchParams(location.search).get("next");
  if (!next || !next.startsWith("/") || /[\u0000-\u001f\u007f-\u009f\\]/.test(next)) return null;
  let url;
  try {
    url = new URL(next, location.origin);
  } catch {
    return null;
  }
  if (url.origin !== location.origin) return null;
  return url.pathname + url.search + url.hash;
}

/** Where a role starts: an expert on their agenda, a client in the directory of experts. */
function startPage(session) {
  if (session.role === "expert") return `/experts/${session.expert_id}/appointments`;
  if (session.role === "client") return "/experts";
  return null;
}

function say(kind, text) {
  notice.replaceChildren(el("div", { class: `alert alert-${kind}` }, text));
}

async function showSignedIn(session) {
  form.hidden = true;
  who.textContent = `${session.name} · ${session.role}`;
  const out = el("button", { class: "btn", type: "button" }, "Sign out");
  out.addEventListener("click", async () => {
    try {
      await signOut();
      location.assign("/");
    } catch (e) {
      say("error", e.message);
    }
  });
  const parts = [el("h2", {}, `Signed in as ${session.name}`)];
  if (session.role === "expert") {
    parts.push(
      el("p", { class: "row" }, el("a", { class: "btn btn-primary", href: startPage(session) }, "Your agenda"),
        el("a", { class: "btn", href: `/experts/${session.expert_id}/manage` }, "Manage your availability")),
      el("p", {}, "Your booking page for clients: ", el("a", { href: `/book/${session.expert_id}` }, `/book/${session.expert_id}`)),
    );
  } else if (session.role === "client") {
    parts.push(el("p", { class: "row" }, el("a", { class: "btn btn-primary", href: "/experts" }, "Find an expert"),
      el("a", { class: "btn", href: "/appointments" }, "All your appointments")));
    parts.push(el("h3", {}, "Your upcoming appointments"));
    const list = el("ul", { class: "stack", id: "appointments" });
    parts.push(list);
    try {
      const { appointments } = await api("GET", `/api/v1/clients/${session.client_id}/appointments?status=confirmed`);
      if (appointments.length === 0) list.append(el("li", { class: "muted" }, "None yet. Open an expert's booking link to book."));
      for (const a of appointments) {
        const when = new Date(a.start_time).toLocaleString(undefined, { dateStyle: "full", timeStyle: "short" });
        list.append(el("li", {}, el("a", { href: `/appointments/${a.id}` }, when)));
      }
    } catch (e) {
      list.append(el("li", { class: "alert alert-error" }, e.message));
    }
  } else {
    const input = el("input", { id: "expert-id", name: "expert-id", placeholder: "expert id", spellcheck: "false" });
    const go = el("form", { class: "row" }, el("label", { for: "expert-id", class: "visually-hidden" }, "Expert id"), input,
      el("button", { class: "btn", type: "submit" }, "Manage expert"));
    go.addEventListener("submit", (event) => {
      event.preventDefault();
      if (input.value.trim()) location.assign(`/experts/${encodeURIComponent(input.value.trim())}/manage`);
    });
    parts.push(go);
  }
  parts.push(el("p", {}, out));
  signedIn.replaceChildren(...parts);
  signedIn.hidden = false;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const token = form.token.value.trim();
  if (!token) {
    form.token.setAttribute("aria-invalid", "true");
    say("error", "Enter your access token.");
    form.token.focus();
    return;
  }
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    const session = await signIn(token);
    const next = nextPath() || startPage(session);
    if (next) {
      location.assign(next);
    } else {
      notice.replaceChildren();
      await showSignedIn(session);
    }
  } catch (e) {
    form.token.setAttribute("aria-invalid", "true");
    say("error", e.status === 401 ? "That token was not accepted. Check it and try again." : e.message);
    button.disabled = false;
  }
});

try {
  const session = await loadSession();
  if (session) {
    const next = nextPath();
    if (next) location.assign(next);
    else await showSignedIn(session);
  } else {
    form.token.focus();
  }
} catch (e) {
  say("error", e.message);
}

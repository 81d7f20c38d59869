// The one way the pages talk to the server: JSON over fetch, the session cookie (sent by the
// browser, never readable here: it is HttpOnly), and the X-CSRF-Token header on every write.

/** An error answer of the API: {"error":{"code","message"}} plus the HTTP status. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let current = null; // the session: {role, expert_id, client_id, csrf_token, expires_at}

async function request(method, path, body, extraHeaders = {}) {
  const headers = { Accept: "application/json", ...extraHeaders };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && method !== "HEAD" && current) headers["X-CSRF-Token"] = current.csrf_token;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch {
    throw new ApiError(0, "network_error", "The server cannot be reached. Check your connection and try again.");
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = data && data.error;
    throw new ApiError(
      response.status,
      (error && error.code) || "http_" + response.status,
      (error && error.message) || `The server answered ${response.status}.`,
    );
  }
  return data;
}

/**
 * Calls the API: api("GET", "/api/v1/experts/ID"), api("PUT", path, body), and with extra headers
 * api("POST", path, body, { headers: { "Idempotency-Key": key } }).
 */
export function api(method, path, body, { headers = {} } = {}) {
  return request(method, path, body, headers);
}

/** The current session, or null when signed out. */
export async function loadSession() {
  try {
    current = await request("GET", "/session");
  } catch (e) {
    if (e.status === 401) {
      current = null;
    } else {
      throw e;
    }
  }
  return current;
}

/** The session, or a trip to the sign-in page that comes back here afterwards. */
export async function requireSession() {
  const session = await loadSession();
  if (!session) {
    const next = location.pathname + location.search;
    location.assign("/?next=" + encodeURIComponent(next));
    return new Promise(() => {}); // the page is going away
  }
  return session;
}

/** Signs in with an API token; the server sets the session cookie. */
export async function signIn(token) {
  current = await request("POST", "/session", { token });
  return current;
}

/** Ends the session. */
export async function signOut() {
  if (current) await request("DELETE", "/session");
  current = null;
}

/**
 * The top bar of a signed-in page: who is signed in (#who) and the sign-out button (#sign-out),
 * which ends the session and returns to the sign-in page. `onError(e)` says what went wrong.
 */
export function mountTopbar(session, onError) {
  document.getElementById("who").textContent = `${session.name} · ${session.role}`;
  mountNav(session);
  const out = document.getElementById("sign-out");
  out.hidden = false;
  out.addEventListener("click", async () => {
    try {
      await signOut();
      location.assign("/");
    } catch (e) {
      onError(e);
    }
  });
}

/** The links of the top bar for the signed-in role; the current page's link says so. */
function mountNav(session) {
  const bar = document.querySelector("header.topbar");
  if (!bar || bar.querySelector(".topnav")) return;
  const links = [];
  if (session.role === "expert" && session.expert_id) {
    const id = encodeURIComponent(session.expert_id);
    links.push([`/experts/${id}/appointments`, "Your agenda"], [`/experts/${id}/manage`, "Availability"], [`/experts/${id}/calendars`, "Calendars"]);
  } else if (session.role === "client") {
    links.push(["/experts", "Find an expert"], ["/appointments", "Your appointments"]);
  } else {
    links.push(["/experts", "Experts"]);
  }
  const nav = el("nav", { class: "topnav", "aria-label": "Main" });
  for (const [href, text] of links) {
    const here = location.pathname === href;
    nav.append(el("a", { href, "aria-current": here ? "page" : null }, text));
  }
  bar.querySelector(".brand").after(nav);
}

/** Text content helper that never interprets HTML: pages build DOM nodes, not markup strings. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      node.className = value;
    } else if (value === true) {
      node.setAttribute(name, "");
    } else {
      node.setAttribute(name, String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

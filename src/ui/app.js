// konnektd's web UI: Gateway Manager's steps from Ping Identity's guide ("Konnect UI"),
// on konnektd's public API. Hash routes, so the server serves one page.

import { api, ApiError, setCsrf } from "./api.js";
import { announce, clearStale, fill, h } from "./dom.js";
import { controlPlanePage, controlPlanesPage } from "./control_planes.js";
import { entitiesPage, entityEditPage } from "./entities.js";
import { newNodePage, nodesPage } from "./nodes.js";
import { configurePluginPage, customPluginPage, newPluginPage, pluginsPage } from "./plugins.js";

const main = () => document.getElementById("main");
let cleanups = [];
let session = null;

/** Runs `fn` when the page is left (timers, listeners). */
export function onLeave(fn) {
  cleanups.push(fn);
}

export function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

/** The sidebar and content of a control plane's pages. */
export async function cpShell(cp, current, ...content) {
  const plane = await api("GET", `/v2/control-planes/${encodeURIComponent(cp)}`);
  const link = (path, text) => h("a", { href: `#/cp/${cp}${path}`, "aria-current": current === path ? "page" : undefined }, text);
  return h("div.shell", {},
    h("nav.side", { "aria-label": "Control plane" },
      h("p.crumb", {}, h("a", { href: "#/" }, "Gateway Manager"), " / ", h("span", {}, plane.name)),
      h("ul", {},
        h("li", {}, link("", "Overview")),
        h("li", {}, link("/services", "Gateway Services")),
        h("li", {}, link("/routes", "Routes")),
        h("li", {}, link("/consumers", "Consumers")),
        h("li", {}, link("/plugins", "Plugins")),
        h("li", {}, link("/nodes", "Data Plane Nodes")))),
    h("div.content", {}, ...content));
}

const routes = [
  [/^\/$/, () => controlPlanesPage()],
  [/^\/cp\/([^/]+)$/, (cp) => controlPlanePage(cp)],
  [/^\/cp\/([^/]+)\/plugins$/, (cp) => pluginsPage(cp)],
  [/^\/cp\/([^/]+)\/plugins\/new$/, (cp, q) => newPluginPage(cp, q.get("tab") || "kong")],
  [/^\/cp\/([^/]+)\/plugins\/custom\/new$/, (cp) => customPluginPage(cp, null)],
  [/^\/cp\/([^/]+)\/plugins\/custom\/([^/]+)\/update$/, (cp, q, name) => customPluginPage(cp, decodeURIComponent(name))],
  [/^\/cp\/([^/]+)\/plugins\/configure\/([^/]+)$/, (cp, q, name) => configurePluginPage(cp, decodeURIComponent(name), null)],
  [/^\/cp\/([^/]+)\/plugins\/edit\/([^/]+)$/, (cp, q, id) => configurePluginPage(cp, null, id)],
  [/^\/cp\/([^/]+)\/nodes$/, (cp) => nodesPage(cp)],
  [/^\/cp\/([^/]+)\/nodes\/new$/, (cp) => newNodePage(cp)],
  [/^\/cp\/([^/]+)\/(services|routes|consumers)$/, (cp, q, kind) => entitiesPage(cp, kind)],
  [/^\/cp\/([^/]+)\/(services|routes|consumers)\/(new|[^/]+)$/, (cp, q, kind, id) => entityEditPage(cp, kind, id === "new" ? null : id)],
];

async function render() {
  for (const fn of cleanups.splice(0)) fn();
  clearStale();
  if (!session) return signInPage();
  const [path, query = ""] = (location.hash.slice(1) || "/").split("?");
  const params = new URLSearchParams(query);
  for (const [pattern, page] of routes) {
    const m = path.match(pattern);
    if (!m) continue;
    const [, cp, ...rest] = m;
    try {
      const view = await page(cp, params, ...rest);
      fill(main(), view);
      const heading = main().querySelector("h1");
      if (heading) {
        heading.setAttribute("tabindex", "-1");
        heading.focus();
        document.title = `${heading.textContent} · konnektd`;
      }
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return;
      fill(main(), h("h1", {}, "Something went wrong"), h("p.error", { role: "alert" }, e.message), h("p", {}, h("a", { href: "#/" }, "Back to Gateway Manager")));
    }
    return;
  }
  fill(main(), h("h1", {}, "Not found"), h("p", {}, h("a", { href: "#/" }, "Back to Gateway Manager")));
}

function showWho() {
  const who = document.getElementById("who");
  if (!session) return fill(who);
  const out = h("button.link", { type: "button", id: "sign-out" }, "Sign out");
  out.addEventListener("click", async () => {
    try {
      await api("DELETE", "/ui/session");
    } finally {
      session = null;
      setCsrf(null);
      showWho();
      announce("Signed out.");
      render();
    }
  });
  fill(who, h("span", {}, "Signed in with ", h("strong", {}, session.token_name)), " ", out);
}

function signInPage() {
  const input = h("input#token", { type: "password", name: "token", autocomplete: "off", spellcheck: "false", "aria-describedby": "token-help token-error", "aria-required": "true" });
  const error = h("p.error#token-error", { role: "alert" });
  const form = h("form.card.narrow", { "aria-labelledby": "sign-in-title" },
    h("h1#sign-in-title", {}, "Sign in"),
    h("div.field", {},
      h("label", { for: "token" }, "Personal access token"),
      input,
      h("p.help#token-help", {}, "A kpat_ or spat_ token, such as the one konnektd printed at its first start, or one from `konnektd token create --name me`. It is sent once, to open a session, and kept nowhere in the browser."),
      error),
    h("button.primary", { type: "submit" }, "Sign in"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    try {
      const opened = await api("POST", "/ui/session", { token: input.value });
      input.value = "";
      session = opened;
      setCsrf(opened.csrf_token);
      showWho();
      announce("Signed in.");
      render();
    } catch (e) {
      error.textContent = e.status === 401 ? "That token is not valid: check it, or create one with `konnektd token create`." : e.message;
      input.focus();
    }
  });
  fill(main(), form);
  document.title = "Sign in · konnektd";
  input.focus();
}

window.addEventListener("konnektd:signed-out", () => {
  if (!session) return;
  session = null;
  showWho();
  announce("Your session ended: sign in again.", "error");
  render();
});
window.addEventListener("hashchange", render);

async function start() {
  try {
    session = await api("GET", "/ui/session");
    setCsrf(session.csrf_token);
  } catch {
    session = null;
  }
  showWho();
  render();
}

start();

// Tiny DOM helpers. Text always goes in as text (never as HTML), so nothing the server
// or a user typed can become markup.

/** h("tag.class#id", {attrs}, ...children): an element. */
export function h(spec, attrs = {}, ...children) {
  const [, tag, rest = ""] = spec.match(/^([a-z0-9]+)(.*)$/i);
  const el = document.createElement(tag);
  for (const part of rest.match(/[.#][^.#]+/g) || []) {
    if (part[0] === ".") el.classList.add(part.slice(1));
    else el.id = part.slice(1);
  }
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "value") el.value = value;
    else if (key === "checked") el.checked = !!value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Clears the status bar when its message belongs to an earlier page. */
export function clearStale() {
  if (Date.now() - announced > 1500) {
    const status = document.getElementById("status");
    status.className = "status";
    status.textContent = "";
  }
}

let ids = 0;
/** A fresh element id. */
export function uid(prefix = "f") {
  ids += 1;
  return `${prefix}-${ids}`;
}

/** Announces a message to screen readers and shows it in the status bar. */
let announced = 0;
export function announce(text, kind = "info") {
  announced = Date.now();
  const status = document.getElementById("status");
  status.className = `status ${kind}`;
  status.textContent = text;
}

/** "service_url" -> "Service Url", "connection_keepAlive_ms" -> "Connection KeepAlive Ms":
 * Konnect's labels for schema fields. */
export function label(name) {
  return String(name)
    .split("_")
    .filter(Boolean)
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join(" ");
}

export function when(seconds) {
  if (!seconds) return "never";
  return new Date(seconds * 1000).toLocaleString();
}

/** A table of rows; columns are [heading, row => cell]. */
export function table(caption, columns, rows, empty = "None yet.") {
  if (!rows.length) return h("p.empty", {}, empty);
  return h("div.table-wrap", {},
    h("table", {},
      h("caption.visually-hidden", {}, caption),
      h("thead", {}, h("tr", {}, columns.map(([head]) => h("th", { scope: "col" }, head)))),
      h("tbody", {}, rows.map((row) => h("tr", {}, columns.map(([, cell]) => h("td", {}, cell(row))))))));
}

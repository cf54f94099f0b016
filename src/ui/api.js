// The public API, called with the session cookie. Changes carry the session's
// X-CSRF-Token; the token itself is only ever sent once, in the sign-in body.

let csrf = null;

export class ApiError extends Error {
  constructor(status, body) {
    super(messageOf(status, body));
    this.status = status;
    this.body = body;
  }

  /** [{field, messages}] from any of the API's three error bodies. */
  get fields() {
    const body = this.body || {};
    if (Array.isArray(body.details)) {
      return body.details.map((d) => ({ field: d.field || "", messages: d.messages || [d.message].filter(Boolean) }));
    }
    if (Array.isArray(body.invalid_parameters)) {
      return body.invalid_parameters.map((p) => ({ field: p.field || "", messages: [p.reason] }));
    }
    return [];
  }
}

function messageOf(status, body) {
  if (body && typeof body === "object") return body.message || body.detail || body.title || `HTTP ${status}`;
  return `HTTP ${status}`;
}

export function setCsrf(value) {
  csrf = value;
}

/** fetch() the API: JSON in, JSON out, an ApiError for any non-2xx. A 401 sends the
 * browser back to the sign-in page. */
export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  if (!response.ok) {
    if (response.status === 401 && path !== "/ui/session") {
      csrf = null;
      window.dispatchEvent(new CustomEvent("konnektd:signed-out"));
    }
    throw new ApiError(response.status, parsed);
  }
  return parsed;
}

/** Every item of a core-entity list (Koko's `data` and `offset`). */
export async function listAll(path) {
  const items = [];
  let offset = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const page = await api("GET", `${path}${offset ? sep : ""}${offset ? `offset=${encodeURIComponent(offset)}` : ""}`);
    items.push(...(page.data || []));
    offset = page.offset || null;
  } while (offset);
  return items;
}

/** Where a control plane's core entities live. */
export function core(cp, rest = "") {
  return `/v2/control-planes/${encodeURIComponent(cp)}/core-entities${rest}`;
}

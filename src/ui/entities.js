// Gateway Services, Routes and Consumers: list, create, edit, delete, so plugins can be
// scoped to them.

import { api, core, listAll } from "./api.js";
import { cpShell, go } from "./app.js";
import { announce, h, table } from "./dom.js";
import { schemaForm } from "./form.js";

const lines = { type: "array", elements: { type: "string" } };

export const KINDS = {
  services: {
    title: "Gateway Services",
    one: "Gateway Service",
    fields: [
      { name: { type: "string", description: "A unique name, used to find it again." } },
      { url: { type: "string", required: true, description: "Where requests go, e.g. http://httpbin.org/anything (protocol, host, port and path at once)." } },
    ],
    shown: (s) => s.name || s.id,
    columns: [["Host", (s) => `${s.protocol}://${s.host}:${s.port}${s.path || ""}`]],
    // An existing service, as its form shows it.
    values: (s) => ({ name: s.name, url: `${s.protocol}://${s.host}:${s.port}${s.path || ""}` }),
  },
  routes: {
    title: "Routes",
    one: "Route",
    fields: [
      { name: { type: "string" } },
      { paths: { ...lines, description: "Request paths that match, e.g. /anything." } },
      { hosts: { ...lines } },
      { methods: { ...lines, description: "GET, POST, ..." } },
    ],
    shown: (r) => r.name || r.id,
    columns: [["Paths", (r) => (r.paths || []).join(", ")]],
    values: (r) => r,
  },
  consumers: {
    title: "Consumers",
    one: "Consumer",
    fields: [
      { username: { type: "string", description: "Username or Custom ID (or both) is needed." } },
      { custom_id: { type: "string" } },
    ],
    shown: (c) => c.username || c.custom_id || c.id,
    columns: [["Custom ID", (c) => c.custom_id || ""]],
    values: (c) => c,
  },
};

export async function entitiesPage(cp, kind) {
  const spec = KINDS[kind];
  const items = await listAll(core(cp, `/${kind}`));
  const remove = (item) => {
    const button = h("button.link.danger", { type: "button" }, "Delete", h("span.visually-hidden", {}, ` ${spec.shown(item)}`));
    button.addEventListener("click", async () => {
      if (button.dataset.armed !== "yes") {
        button.dataset.armed = "yes";
        button.textContent = `Confirm delete of ${spec.shown(item)}`;
        return;
      }
      try {
        await api("DELETE", core(cp, `/${kind}/${item.id}`));
        announce(`${spec.one} ${spec.shown(item)} deleted.`);
        go(`#/cp/${cp}/${kind}?t=${Date.now()}`);
      } catch (e) {
        announce(e.message, "error");
      }
    });
    return button;
  };
  return cpShell(cp, `/${kind}`,
    h("div.heading", {}, h("h1", {}, spec.title), h("a.button.primary", { href: `#/cp/${cp}/${kind}/new` }, `New ${spec.one}`)),
    table(spec.title, [
      ["Name", (item) => h("a", { href: `#/cp/${cp}/${kind}/${item.id}` }, spec.shown(item))],
      ...spec.columns,
      ["", (item) => remove(item)],
    ], items));
}

export async function entityEditPage(cp, kind, id) {
  const spec = KINDS[kind];
  const existing = id ? await api("GET", core(cp, `/${kind}/${id}`)) : null;
  const form = schemaForm(spec.fields, existing ? spec.values(existing) : {});
  let servicePicker = null;
  if (kind === "routes") {
    const services = await listAll(core(cp, "/services"));
    servicePicker = h("select#route-service", {},
      h("option", { value: "" }, "— none —"),
      services.map((s) => h("option", { value: s.id }, s.name || s.id)));
    servicePicker.value = existing && existing.service ? existing.service.id : "";
  }
  const el = h("form.card", { novalidate: true },
    servicePicker ? h("div.field", {}, h("label", { for: "route-service" }, "Gateway Service"), servicePicker) : null,
    form.el,
    h("div.actions", {},
      h("button.primary", { type: "submit" }, "Save"),
      h("a.button.secondary", { href: `#/cp/${cp}/${kind}` }, "Cancel")));
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = form.value();
    if (servicePicker) body.service = servicePicker.value ? { id: servicePicker.value } : null;
    try {
      const saved = existing
        ? await api("PATCH", core(cp, `/${kind}/${existing.id}`), body)
        : await api("POST", core(cp, `/${kind}`), body);
      announce(`${spec.one} ${spec.shown(saved)} saved.`);
      go(`#/cp/${cp}/${kind}`);
    } catch (e) {
      const first = form.showErrors(e.fields, e.message);
      announce(e.message, "error");
      if (first) first.focus();
    }
  });
  return cpShell(cp, `/${kind}`,
    h("h1", {}, existing ? `Edit ${spec.one} ${spec.shown(existing)}` : `New ${spec.one}`), el);
}

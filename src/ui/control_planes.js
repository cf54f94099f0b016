// Gateway Manager's list of control planes, a new one, and one opened.

import { api, core, listAll } from "./api.js";
import { go, cpShell } from "./app.js";
import { announce, h, table } from "./dom.js";
import { schemaForm } from "./form.js";

export async function controlPlanesPage() {
  const page = await api("GET", "/v2/control-planes?page[size]=100");
  const form = schemaForm([
    { name: { type: "string", required: true } },
    { description: { type: "string" } },
  ]);
  const submit = h("form.card", { "aria-labelledby": "new-cp" },
    h("h2#new-cp", {}, "New Control Plane"), form.el,
    h("button.primary", { type: "submit" }, "Save"));
  submit.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const created = await api("POST", "/v2/control-planes", form.value());
      announce(`Control plane ${created.name} created.`);
      go(`#/cp/${created.id}`);
    } catch (e) {
      const first = form.showErrors(e.fields, e.message);
      announce(e.message, "error");
      if (first) first.focus();
    }
  });
  return h("div", {},
    h("h1", {}, "Gateway Manager"),
    h("section", { "aria-labelledby": "cps" },
      h("h2#cps", {}, "Control Planes"),
      table("Control planes", [
        ["Name", (cp) => h("a", { href: `#/cp/${cp.id}` }, cp.name)],
        ["Description", (cp) => cp.description || ""],
        ["ID", (cp) => h("code", {}, cp.id)],
      ], page.data, "No control plane yet: create one below.")),
    submit);
}

export async function controlPlanePage(cp) {
  const plane = await api("GET", `/v2/control-planes/${encodeURIComponent(cp)}`);
  const [services, routes, plugins] = await Promise.all(
    ["/services", "/routes", "/plugins"].map((p) => listAll(core(cp, p))));
  return cpShell(cp, "",
    h("h1", {}, plane.name),
    plane.description ? h("p", {}, plane.description) : null,
    h("dl.facts", {},
      h("dt", {}, "ID"), h("dd", {}, h("code", {}, plane.id)),
      h("dt", {}, "Control plane endpoint"), h("dd", {}, h("code", {}, plane.config.control_plane_endpoint)),
      h("dt", {}, "Gateway Services"), h("dd", {}, String(services.length)),
      h("dt", {}, "Routes"), h("dd", {}, String(routes.length)),
      h("dt", {}, "Plugins"), h("dd", {}, String(plugins.length))));
}

// Plugins: the list, New Plugin (Kong Plugins and Custom Plugins tabs), a custom plugin's
// schema.lua (Select File, preview, Save; update; delete), and a plugin's configuration
// form generated from its JSON schema, Global or Scoped.

import { api, core, listAll } from "./api.js";
import { cpShell, go } from "./app.js";
import { announce, h, label, table, uid } from "./dom.js";
import { entries, schemaForm } from "./form.js";

const SCOPES = [
  ["service", "services", "Service", (s) => s.name || s.host || s.id],
  ["route", "routes", "Route", (r) => r.name || (r.paths || []).join(", ") || r.id],
  ["consumer", "consumers", "Consumer", (c) => c.username || c.custom_id || c.id],
  ["consumer_group", "consumer_groups", "Consumer Group", (g) => g.name || g.id],
];
// Fields the form does not show as such: identity, timestamps, the scope pickers.
const NOT_IN_FORM = new Set(["id", "name", "created_at", "updated_at", "enabled", "service", "route", "consumer", "consumer_group"]);

function scopeText(plugin, names) {
  const parts = SCOPES.filter(([key]) => plugin[key]).map(([key, , title]) => `${title}: ${names.get(plugin[key].id) || plugin[key].id}`);
  return parts.length ? parts.join(", ") : "Global";
}

async function scopeNames(cp) {
  const names = new Map();
  const lists = await Promise.all(SCOPES.map(([, path]) => listAll(core(cp, `/${path}`))));
  SCOPES.forEach(([, , , shown], i) => lists[i].forEach((item) => names.set(item.id, shown(item))));
  return [names, lists];
}

export async function pluginsPage(cp) {
  const [plugins, [names]] = await Promise.all([listAll(core(cp, "/plugins")), scopeNames(cp)]);
  const toggle = (plugin) => {
    const id = uid();
    const box = h("input", { type: "checkbox", id, checked: plugin.enabled });
    box.addEventListener("change", async () => {
      try {
        await api("PATCH", core(cp, `/plugins/${plugin.id}`), { enabled: box.checked });
        announce(`${plugin.name} ${box.checked ? "enabled" : "disabled"}.`);
      } catch (e) {
        box.checked = !box.checked;
        announce(e.message, "error");
      }
    });
    return h("span.check", {}, box, h("label", { for: id }, h("span.visually-hidden", {}, `${plugin.name} `), "Enabled"));
  };
  const remove = (plugin) => {
    const button = h("button.link.danger", { type: "button" }, "Delete", h("span.visually-hidden", {}, ` ${plugin.name}`));
    button.addEventListener("click", async () => {
      if (button.dataset.armed !== "yes") {
        button.dataset.armed = "yes";
        button.textContent = `Confirm delete of ${plugin.name}`;
        return;
      }
      try {
        await api("DELETE", core(cp, `/plugins/${plugin.id}`));
        announce(`Plugin ${plugin.name} deleted.`);
        go(`#/cp/${cp}/plugins?t=${Date.now()}`);
      } catch (e) {
        announce(e.message, "error");
      }
    });
    return button;
  };
  return cpShell(cp, "/plugins",
    h("div.heading", {}, h("h1", {}, "Plugins"), h("a.button.primary#new-plugin", { href: `#/cp/${cp}/plugins/new` }, "New Plugin")),
    table("Plugins", [
      ["Name", (p) => h("a", { href: `#/cp/${cp}/plugins/edit/${p.id}` }, p.instance_name ? `${p.name} (${p.instance_name})` : p.name)],
      ["Applied to", (p) => scopeText(p, names)],
      ["Status", toggle],
      ["", remove],
    ], plugins, "No plugin yet: click New Plugin."));
}

export async function newPluginPage(cp, tab) {
  const [available, custom] = await Promise.all([
    api("GET", core(cp, "/v1/available-plugins")),
    api("GET", core(cp, "/plugin-schemas?page[size]=100")),
  ]);
  const customNames = new Set(custom.items.map((s) => s.name));
  const kong = available.names.filter((n) => !customNames.has(n));
  const tabs = [["kong", "Kong Plugins"], ["custom", "Custom Plugins"]];
  const tablist = h("div.tabs", { role: "tablist", "aria-label": "Plugin kinds" },
    tabs.map(([key, text]) => h("a", {
      role: "tab", id: `tab-${key}`, href: `#/cp/${cp}/plugins/new?tab=${key}`,
      "aria-selected": String(tab === key), "aria-controls": "tab-panel",
    }, text)));
  const tile = (name) => h("li.tile", {}, h("a.tile-link", { href: `#/cp/${cp}/plugins/configure/${encodeURIComponent(name)}` }, name));
  let panel;
  if (tab === "custom") {
    const customTile = (schema) => {
      const del = h("button.link.danger", { type: "button" }, "Delete", h("span.visually-hidden", {}, ` ${schema.name}`));
      const error = h("p.error", { role: "alert" });
      del.addEventListener("click", async () => {
        if (del.dataset.armed !== "yes") {
          del.dataset.armed = "yes";
          del.textContent = `Confirm delete of ${schema.name}`;
          return;
        }
        try {
          await api("DELETE", core(cp, `/plugin-schemas/${encodeURIComponent(schema.name)}`));
          announce(`Custom plugin ${schema.name} deleted.`);
          go(`#/cp/${cp}/plugins/new?tab=custom&t=${Date.now()}`);
        } catch (e) {
          error.textContent = e.message;
          del.dataset.armed = "";
          del.replaceChildren("Delete", h("span.visually-hidden", {}, ` ${schema.name}`));
        }
      });
      return h("li.tile", { dataset: { plugin: schema.name } },
        h("a.tile-link", { href: `#/cp/${cp}/plugins/configure/${encodeURIComponent(schema.name)}` }, schema.name),
        h("div.tile-actions", {},
          h("a", { href: `#/cp/${cp}/plugins/custom/${encodeURIComponent(schema.name)}/update` }, "Update", h("span.visually-hidden", {}, ` ${schema.name}`)),
          del),
        error);
    };
    panel = h("ul.tiles", {},
      h("li.tile.create", {},
        h("p", {}, h("strong", {}, "Custom Plugin")),
        h("p.help", {}, "Add a plugin from its schema.lua."),
        h("a.button.primary#create-custom-plugin", { href: `#/cp/${cp}/plugins/custom/new` }, "Create")),
      custom.items.map(customTile));
  } else {
    panel = h("ul.tiles", {}, kong.map(tile));
  }
  return cpShell(cp, "/plugins",
    h("h1", {}, "New Plugin"), tablist,
    h("div#tab-panel", { role: "tabpanel", "aria-labelledby": `tab-${tab}` }, panel));
}

/** A schema's fields as a list: name, type, required, default. */
function fieldList(fields) {
  return h("ul.preview-fields", {}, entries(fields).map(([name, def]) => h("li", {},
    h("code", {}, name), ` ${def.type}`,
    def.required ? " (required)" : "",
    def.default !== undefined ? `, default ${JSON.stringify(def.default)}` : "",
    def.type === "record" && def.fields ? fieldList(def.fields) : null)));
}

export async function customPluginPage(cp, updating) {
  const input = h("input#schema-file.visually-hidden", { type: "file", accept: ".lua,text/plain", "aria-describedby": "file-name file-error" });
  const fileName = h("span#file-name", {}, "No file selected.");
  const error = h("p.error#file-error", { role: "alert" });
  const preview = h("section#preview", { "aria-live": "polite", "aria-label": "Preview" });
  const save = h("button.primary#save-schema", { type: "button", disabled: true }, "Save");
  let source = null;
  input.addEventListener("change", async () => {
    const file = input.files[0];
    source = null;
    save.disabled = true;
    error.textContent = "";
    preview.replaceChildren();
    if (!file) return;
    fileName.textContent = file.name;
    const text = await file.text();
    try {
      const { item } = await api("POST", "/ui/plugin-schemas/preview", { lua_schema: text });
      if (updating && item.name !== updating) {
        error.textContent = `This file's schema is named '${item.name}', not '${updating}'.`;
        return;
      }
      const config = entries(item.schema.fields).find(([n]) => n === "config");
      preview.append(
        h("h2", {}, "Preview"),
        h("dl.facts", {}, h("dt", {}, "Name"), h("dd#preview-name", {}, item.name)),
        h("h3", {}, "Configuration fields"),
        config ? fieldList(config[1].fields) : h("p", {}, "None."),
        h("details", {}, h("summary", {}, file.name), h("pre.code", {}, text)));
      source = text;
      save.disabled = false;
    } catch (e) {
      error.textContent = e.message;
    }
  });
  save.addEventListener("click", async () => {
    if (source === null) return;
    try {
      const { item } = updating
        ? await api("PUT", core(cp, `/plugin-schemas/${encodeURIComponent(updating)}`), { lua_schema: source })
        : await api("POST", core(cp, "/plugin-schemas"), { lua_schema: source });
      announce(`Custom plugin ${item.name} saved.`);
      go(`#/cp/${cp}/plugins/new?tab=custom`);
    } catch (e) {
      error.textContent = e.message;
      input.focus();
    }
  });
  return cpShell(cp, "/plugins",
    h("h1", {}, updating ? `Update ${updating}` : "Create Custom Plugin"),
    h("div.card", {},
      h("p", {}, "Select the plugin's schema.lua. It is read here and checked by the server before anything is saved."),
      h("div.file", {}, h("label.button.secondary", { for: "schema-file" }, "Select File"), input, " ", fileName),
      error, preview,
      h("div.actions", {}, save, h("a.button.secondary", { href: `#/cp/${cp}/plugins/new?tab=custom` }, "Cancel"))));
}

/** A plugin konnektd offers without carrying its schema (Kong Enterprise's): its
 * config is written as JSON and stored as given. */
function unvalidated(plugin) {
  const foreign = (reference) => ({ type: "foreign", reference });
  return {
    unvalidated: true,
    fields: [
      { service: foreign("services") },
      { route: foreign("routes") },
      { consumer: foreign("consumers") },
      { consumer_group: foreign("consumer_groups") },
      { config: { type: "json", description: `konnektd does not carry ${plugin}'s schema, so its config is stored as given, unchecked.` } },
      { protocols: { type: "set", elements: { type: "string", one_of: ["grpc", "grpcs", "http", "https", "tcp", "tls", "tls_passthrough", "udp", "ws", "wss"] }, default: ["grpc", "grpcs", "http", "https"] } },
      { instance_name: { type: "string" } },
      { tags: { type: "set", elements: { type: "string" } } },
    ],
  };
}

export async function configurePluginPage(cp, name, id) {
  const existing = id ? await api("GET", core(cp, `/plugins/${id}`)) : null;
  const plugin = name || existing.name;
  const [schema, [, lists]] = await Promise.all([
    api("GET", core(cp, `/schemas/plugins/${encodeURIComponent(plugin)}`)).catch((e) => {
      if (e.status === 404) return unvalidated(plugin);
      throw e;
    }),
    scopeNames(cp),
  ]);
  const all = entries(schema.fields);
  const defs = new Map(all);
  const shown = all.filter(([n]) => !NOT_IN_FORM.has(n));
  shown.sort(([a], [b]) => (b === "config") - (a === "config"));
  const form = schemaForm(shown.map(([n, d]) => ({ [n]: d })), existing || {});

  // Global or Scoped, with a picker per entity the plugin can be scoped to.
  const scoped = existing && SCOPES.some(([key]) => existing[key]);
  const globalRadio = h("input#scope-global", { type: "radio", name: "scope", value: "global", checked: !scoped });
  const scopedRadio = h("input#scope-scoped", { type: "radio", name: "scope", value: "scoped", checked: scoped });
  const pickers = [];
  const pickerBox = h("div.pickers", { hidden: !scoped });
  SCOPES.forEach(([key, , title, shownName], i) => {
    const def = defs.get(key);
    if (!def || def.eq === null) return;
    const select = h("select", { id: `scope-${key}`, "aria-describedby": `scope-${key}-error` },
      h("option", { value: "" }, "— none —"),
      lists[i].map((item) => h("option", { value: item.id }, shownName(item))));
    select.value = existing && existing[key] ? existing[key].id : "";
    const error = h("p.error", { id: `scope-${key}-error` });
    pickers.push([key, select, error]);
    pickerBox.append(h("div.field", { dataset: { path: key } }, h("label", { for: `scope-${key}` }, title), select, error));
  });
  const onScope = () => {
    pickerBox.hidden = !scopedRadio.checked;
  };
  globalRadio.addEventListener("change", onScope);
  scopedRadio.addEventListener("change", onScope);
  const enabled = h("input#plugin-enabled", { type: "checkbox", checked: existing ? existing.enabled : true });

  const el = h("form.card", { novalidate: true },
    h("div.field", {}, h("div.check", {}, enabled, h("label", { for: "plugin-enabled" }, "This plugin is Enabled"))),
    h("fieldset.scope", {},
      h("legend", {}, "Scope"),
      h("div.check", {}, globalRadio, h("label", { for: "scope-global" }, "Global"), h("span.help", {}, " (all requests)")),
      h("div.check", {}, scopedRadio, h("label", { for: "scope-scoped" }, "Scoped"), h("span.help", {}, " (some services, routes, consumers or consumer groups)")),
      pickerBox),
    form.el,
    h("div.actions", {},
      h("button.primary#save-plugin", { type: "submit" }, "Save"),
      h("a.button.secondary", { href: `#/cp/${cp}/plugins` }, "Cancel")));
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { name: plugin, enabled: enabled.checked, ...form.value() };
    for (const [key, select, error] of pickers) {
      error.textContent = "";
      body[key] = scopedRadio.checked && select.value ? { id: select.value } : null;
    }
    if (scopedRadio.checked && pickers.every(([key]) => !body[key])) {
      form.showErrors([], "Scoped: pick a Service, Route, Consumer or Consumer Group, or choose Global.");
      if (pickers[0]) pickers[0][1].focus();
      return;
    }
    try {
      const saved = existing
        ? await api("PUT", core(cp, `/plugins/${existing.id}`), body)
        : await api("POST", core(cp, "/plugins"), body);
      form.clearErrors();
      announce(`Plugin ${saved.name} saved.`);
      go(`#/cp/${cp}/plugins`);
    } catch (e) {
      const scopeErrors = e.fields.filter(({ field }) => pickers.some(([key]) => field === key || field.startsWith(`${key}.`)));
      for (const { field, messages } of scopeErrors) {
        const picker = pickers.find(([key]) => field === key || field.startsWith(`${key}.`));
        picker[2].textContent = messages.join(" ");
      }
      const first = form.showErrors(e.fields.filter((f) => !scopeErrors.includes(f)), e.fields.length ? null : e.message);
      announce(`The plugin was not saved: ${e.message}.`, "error");
      if (first) first.focus();
      else if (scopeErrors.length) pickers[0][1].focus();
    }
  });
  return cpShell(cp, "/plugins",
    h("h1", {}, existing ? `Edit ${plugin}` : `Configure ${plugin}`),
    h("p.help", {}, `Fields marked * are required. ${label(plugin)}'s defaults are filled in.`),
    el);
}

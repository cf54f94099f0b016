// A form generated from a Kong JSON schema (`GET .../schemas/plugins/{name}`): every field
// type of Kong's schema language, required markers, defaults, descriptions as help,
// secrets masked, and the API's error details shown beside the field they name.

import { h, label, uid } from "./dom.js";

const SCALARS = new Set(["string", "number", "integer", "boolean"]);
// Names that hold a secret (shared_secret, password, client_secret, api_key...), not
// names that merely mention one (secret_header_name).
const SECRET = /(^|_)(secret|password|passwd|api_key|private_key|token)$/i;

/** [[name, def], ...] from Kong's `fields: [{name: def}, ...]`. */
export function entries(fields) {
  return (fields || []).map((f) => Object.entries(f)[0]);
}

function isSecret(name, def) {
  return def.encrypted === true || (def.type === "string" && SECRET.test(name));
}

function present(v) {
  return v !== undefined && v !== null;
}

/** The form over `fields` (Kong's list), starting from `values`. */
export function schemaForm(fields, values = {}, prefix = "") {
  const slots = new Map();
  const root = record("", { type: "record", fields }, prefix, values || {}, slots, true);
  const general = h("div.form-errors", { role: "alert", tabindex: "-1" });
  return {
    el: h("div.schema-form", {}, general, root.el),
    value: () => root.get() || {},
    clearErrors() {
      general.replaceChildren();
      for (const slot of slots.values()) slot.clear();
    },
    /** Puts each message beside the field it names (or its nearest named ancestor);
     * returns the first place to move focus to. */
    showErrors(list, fallback) {
      this.clearErrors();
      let first = null;
      for (const { field, messages } of list) {
        let path = String(field || "").replace(/\[(\d+)\]/g, ".$1");
        while (path && !slots.has(path)) path = path.includes(".") ? path.slice(0, path.lastIndexOf(".")) : "";
        const slot = slots.get(path);
        if (slot) {
          slot.show(messages);
          first = first || slot.focus;
        } else {
          general.append(h("p.error", {}, field ? `${label(field)}: ` : "", messages.join(" ")));
        }
      }
      if (!list.length && fallback) general.append(h("p.error", {}, fallback));
      if (general.childElementCount) first = general;
      return first;
    },
  };
}

/** The error line of one field, and how to show or clear it. */
function errorSlot(path, slots, control, wrapper) {
  const error = h("p.error", { id: uid("err"), hidden: true });
  const slot = {
    error,
    focus: control,
    show(messages) {
      error.textContent = messages.join(" ");
      error.hidden = false;
      wrapper.classList.add("invalid");
      if (control && control.setAttribute) control.setAttribute("aria-invalid", "true");
    },
    clear() {
      error.textContent = "";
      error.hidden = true;
      wrapper.classList.remove("invalid");
      if (control && control.removeAttribute) control.removeAttribute("aria-invalid");
    },
  };
  slots.set(path, slot);
  return slot;
}

function help(def) {
  const parts = [];
  if (def.description) parts.push(def.description);
  if (def.referenceable) parts.push("Accepts a vault reference such as {vault://env/MY_SECRET}.");
  if (present(def.default) && !SCALARS.has(def.type)) parts.push(`Default: ${JSON.stringify(def.default)}.`);
  return parts.join(" ");
}

function labelText(name, def) {
  return [label(name), def.required ? h("span.req", { "aria-hidden": "true" }, " *") : null];
}

function field(name, def, path, value, slots) {
  switch (def.type) {
    case "record":
      return record(name, def, path, value, slots, false);
    case "array":
    case "set":
      return list(name, def, path, value, slots);
    case "map":
      return map(name, def, path, value, slots);
    case "string":
    case "number":
    case "integer":
    case "boolean":
      return scalar(name, def, path, value, slots);
    case "foreign":
      return null;
    default:
      return jsonField(name, def, path, value, slots);
  }
}

function record(name, def, path, value, slots, top) {
  const children = [];
  const body = [];
  for (const [child, childDef] of entries(def.fields)) {
    const built = field(child, childDef, path ? `${path}.${child}` : child, (value || {})[child], slots);
    if (!built) continue;
    children.push([child, built]);
    body.push(built.el);
  }
  const get = () => {
    const out = {};
    for (const [child, built] of children) {
      const v = built.get();
      if (v !== undefined) out[child] = v;
    }
    if (!top && !def.required && !Object.keys(out).length) return undefined;
    return out;
  };
  if (top) return { el: h("div", {}, body), get };
  const legend = h("legend", {}, labelText(name, def));
  const fieldset = h("fieldset.record", { dataset: { path } }, legend);
  const slot = errorSlot(path, slots, fieldset, fieldset);
  fieldset.setAttribute("tabindex", "-1");
  const text = help(def);
  if (text) fieldset.append(h("p.help", {}, text));
  fieldset.append(slot.error, ...body);
  return { el: fieldset, get };
}

function scalar(name, def, path, value, slots) {
  const id = uid();
  const helpId = uid("help");
  const start = present(value) ? value : def.default;
  let control;
  if (def.type === "boolean") {
    control = h("input", { type: "checkbox", id, checked: start === true });
  } else if (Array.isArray(def.one_of)) {
    control = h("select", { id },
      def.required && present(start) ? null : h("option", { value: "" }, "—"),
      def.one_of.map((option) => h("option", { value: String(option) }, String(option))));
    control.value = present(start) ? String(start) : "";
  } else {
    const secret = isSecret(name, def);
    control = h("input", {
      id,
      type: secret ? "password" : "text",
      autocomplete: secret ? "new-password" : "off",
      inputmode: def.type === "integer" ? "numeric" : def.type === "number" ? "decimal" : undefined,
      value: present(start) ? String(start) : "",
      spellcheck: "false",
    });
  }
  if (def.required) control.setAttribute("aria-required", "true");
  const wrapper = h("div.field", { dataset: { path, type: def.type } });
  const slot = errorSlot(path, slots, control, wrapper);
  const text = help(def);
  control.setAttribute("aria-describedby", [text ? helpId : null, slot.error.id].filter(Boolean).join(" "));
  const lab = h("label", { for: id }, labelText(name, def));
  if (def.type === "boolean") wrapper.append(h("div.check", {}, control, lab));
  else wrapper.append(lab, control);
  if (control.type === "password") {
    const toggle = h("button.link", { type: "button", "aria-pressed": "false", "aria-controls": id }, "Show");
    toggle.addEventListener("click", () => {
      const shown = control.type === "text";
      control.type = shown ? "password" : "text";
      toggle.textContent = shown ? "Show" : "Hide";
      toggle.setAttribute("aria-pressed", String(!shown));
    });
    wrapper.append(toggle);
  }
  if (text) wrapper.append(h("p.help", { id: helpId }, text));
  wrapper.append(slot.error);
  const get = () => {
    if (def.type === "boolean") return control.checked;
    const raw = control.value;
    if (raw === "") return undefined;
    return typed(def.type, raw);
  };
  return { el: wrapper, get };
}

/** A number where one is expected; anything else goes to the server as typed, so its
 * message (not the browser's) says what is wrong. */
function typed(type, raw) {
  if (type === "integer" && /^-?\d+$/.test(raw.trim())) return Number(raw);
  if (type === "number" && raw.trim() !== "" && Number.isFinite(Number(raw))) return Number(raw);
  if (type === "boolean") return raw === "true" ? true : raw === "false" ? false : raw;
  return raw;
}

function list(name, def, path, value, slots) {
  const elements = def.elements || { type: "string" };
  const start = present(value) ? value : def.default;
  const text = help(def);
  if (SCALARS.has(elements.type) && Array.isArray(elements.one_of)) {
    const chosen = new Set((start || []).map(String));
    const boxes = elements.one_of.map((option) => {
      const id = uid();
      const box = h("input", { type: "checkbox", id, value: String(option), checked: chosen.has(String(option)) });
      return [box, h("span.choice", {}, box, h("label", { for: id }, String(option)))];
    });
    const fieldset = h("fieldset.choices", { dataset: { path, type: def.type } }, h("legend", {}, labelText(name, def)));
    const slot = errorSlot(path, slots, boxes[0] ? boxes[0][0] : fieldset, fieldset);
    if (text) fieldset.append(h("p.help", {}, text));
    fieldset.append(h("div.choice-list", {}, boxes.map(([, el]) => el)), slot.error);
    return {
      el: fieldset,
      get: () => boxes.filter(([b]) => b.checked).map(([b]) => typed(elements.type, b.value)),
    };
  }
  if (SCALARS.has(elements.type)) {
    const id = uid();
    const helpId = uid("help");
    const area = h("textarea", { id, rows: 3, spellcheck: "false" });
    area.value = (start || []).map(String).join("\n");
    const wrapper = h("div.field", { dataset: { path, type: def.type } });
    const slot = errorSlot(path, slots, area, wrapper);
    area.setAttribute("aria-describedby", `${helpId} ${slot.error.id}`);
    if (def.required) area.setAttribute("aria-required", "true");
    wrapper.append(h("label", { for: id }, labelText(name, def)), area,
      h("p.help", { id: helpId }, `One per line. ${text}`.trim()), slot.error);
    return {
      el: wrapper,
      get: () => {
        const lines = area.value.split("\n").map((l) => l.trim()).filter(Boolean);
        if (!lines.length) return present(value) || def.required ? [] : undefined;
        return lines.map((l) => typed(elements.type, l));
      },
    };
  }
  // Records (or anything else) as elements: one sub-form per element.
  const fieldset = h("fieldset.list", { dataset: { path, type: def.type } }, h("legend", {}, labelText(name, def)));
  const slot = errorSlot(path, slots, fieldset, fieldset);
  fieldset.setAttribute("tabindex", "-1");
  if (text) fieldset.append(h("p.help", {}, text));
  const items = h("div.items");
  const built = [];
  const add = (v) => {
    const index = built.length;
    const one = field(`${label(name)} ${index + 1}`, elements, `${path}.${index}`, v, slots);
    const remove = h("button.link", { type: "button" }, `Remove ${label(name)} ${index + 1}`);
    const row = h("div.item", {}, one.el, remove);
    const entry = { one, row };
    remove.addEventListener("click", () => {
      built.splice(built.indexOf(entry), 1);
      row.remove();
    });
    built.push(entry);
    items.append(row);
  };
  (start || []).forEach(add);
  fieldset.append(slot.error, items, h("button.secondary", { type: "button", onclick: () => add(undefined) }, `Add ${label(name)}`));
  return {
    el: fieldset,
    get: () => {
      const out = built.map(({ one }) => one.get()).filter((v) => v !== undefined);
      return out.length || present(value) ? out : undefined;
    },
  };
}

function map(name, def, path, value, slots) {
  const values = def.values || { type: "string" };
  if (!SCALARS.has(values.type)) return jsonField(name, def, path, value, slots);
  const start = present(value) ? value : def.default;
  const fieldset = h("fieldset.map", { dataset: { path, type: "map" } }, h("legend", {}, labelText(name, def)));
  const slot = errorSlot(path, slots, fieldset, fieldset);
  fieldset.setAttribute("tabindex", "-1");
  const text = help(def);
  if (text) fieldset.append(h("p.help", {}, text));
  const rows = h("div.items");
  const built = [];
  const add = (k = "", v = "") => {
    const keyId = uid();
    const valueId = uid();
    const key = h("input", { id: keyId, value: k, spellcheck: "false" });
    const val = h("input", { id: valueId, value: present(v) ? String(v) : "", spellcheck: "false" });
    const remove = h("button.link", { type: "button" }, "Remove");
    const row = h("div.pair", {}, h("label", { for: keyId }, "Key"), key, h("label", { for: valueId }, "Value"), val, remove);
    const entry = { key, val };
    remove.addEventListener("click", () => {
      built.splice(built.indexOf(entry), 1);
      row.remove();
    });
    built.push(entry);
    rows.append(row);
  };
  Object.entries(start || {}).forEach(([k, v]) => add(k, v));
  fieldset.append(slot.error, rows, h("button.secondary", { type: "button", onclick: () => add() }, `Add ${label(name)} entry`));
  return {
    el: fieldset,
    get: () => {
      const out = {};
      for (const { key, val } of built) if (key.value !== "") out[key.value] = typed(values.type, val.value);
      return Object.keys(out).length || present(value) ? out : undefined;
    },
  };
}

function jsonField(name, def, path, value, slots) {
  const id = uid();
  const start = present(value) ? value : def.default;
  const area = h("textarea.code", { id, rows: 4, spellcheck: "false" });
  area.value = present(start) ? JSON.stringify(start, null, 2) : "";
  const wrapper = h("div.field", { dataset: { path, type: def.type } });
  const slot = errorSlot(path, slots, area, wrapper);
  area.setAttribute("aria-describedby", slot.error.id);
  wrapper.append(h("label", { for: id }, labelText(name, def)), area,
    h("p.help", {}, `As JSON. ${help(def)}`.trim()), slot.error);
  return {
    el: wrapper,
    get: () => {
      if (area.value.trim() === "") return undefined;
      try {
        return JSON.parse(area.value);
      } catch {
        return area.value;
      }
    },
  };
}

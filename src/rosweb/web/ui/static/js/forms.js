// Forms generated from a type's schema (GET /api/types/<type>, or a service's request schema):
// one input per builtin field, a fieldset per nested message, JSON for arrays.

import { h } from "./util.js";

const INT = /^(u?int(8|16|32|64)|byte|char)$/;
const FLOAT = /^float(32|64)$/;
const TIME = /^(time|duration)$/;

let uid = 0;

function kindOf(field, value) {
  if (field.array) return typeof value === "string" ? "string" : "json"; // uint8[]: base64
  if (!field.builtin) return "message";
  if (field.type === "bool") return "bool";
  if (field.type === "string") return "string";
  if (INT.test(field.type)) return "int";
  if (FLOAT.test(field.type)) return "float";
  if (TIME.test(field.type)) return "time";
  return "json";
}

function setPath(target, path, value) {
  const parts = path.split(".");
  let node = target;
  for (const part of parts.slice(0, -1)) node = node[part];
  node[parts.at(-1)] = value;
}

function label(id, field) {
  return h(
    "label",
    { class: "form-label small mb-0 d-flex gap-1 align-items-baseline", for: id },
    h("span", { class: "font-monospace" }, field.name),
    h("span", { class: "text-body-secondary ms-auto field-type" }, field.type_text || field.type),
  );
}

function leaf(field, value, path, inputs) {
  const id = `f${++uid}`;
  const kind = kindOf(field, value);
  const wide = kind === "json" || kind === "string" || kind === "time";
  const col = h("div", { class: wide ? "col-12 col-md-8" : "col-6 col-md-4" });
  let control;
  if (kind === "bool") {
    control = h(
      "div",
      { class: "form-check form-switch mt-1" },
      h("input", { class: "form-check-input", type: "checkbox", role: "switch", id, checked: Boolean(value) }),
    );
    col.append(label(id, field), control);
    inputs.push({ path, kind, input: control.querySelector("input") });
    return col;
  }
  if (kind === "time") {
    const secs = h("input", { class: "form-control form-control-sm font-monospace", type: "number", step: 1, id, value: value?.secs ?? 0, "aria-label": `${path} secs` });
    const nsecs = h("input", { class: "form-control form-control-sm font-monospace", type: "number", step: 1, min: 0, max: 999999999, value: value?.nsecs ?? 0, "aria-label": `${path} nsecs` });
    col.append(
      label(id, field),
      h("div", { class: "input-group input-group-sm" }, secs, h("span", { class: "input-group-text" }, "s"), nsecs, h("span", { class: "input-group-text" }, "ns")),
    );
    inputs.push({ path, kind, input: secs, nsecs });
    return col;
  }
  if (kind === "json") {
    control = h("textarea", { class: "form-control form-control-sm font-monospace", id, rows: 1, spellcheck: "false" });
    control.value = JSON.stringify(value);
  } else {
    const type = kind === "string" ? "text" : "number";
    const step = kind === "int" ? 1 : "any";
    control = h("input", { class: "form-control form-control-sm font-monospace", type, step: type === "number" ? step : undefined, id, autocomplete: "off", spellcheck: "false" });
    control.value = value ?? "";
  }
  col.append(label(id, field), control, h("div", { class: "invalid-feedback" }));
  inputs.push({ path, kind, input: control });
  return col;
}

function fields(fieldList, values, prefix, deps, inputs, constants) {
  const row = h("div", { class: "row g-2" });
  for (const field of fieldList) {
    const path = prefix ? `${prefix}.${field.name}` : field.name;
    const value = values?.[field.name];
    if (kindOf(field, value) === "message") {
      const dep = deps[field.type] || { fields: [], constants: [] };
      row.append(
        h(
          "div",
          { class: "col-12" },
          h(
            "fieldset",
            { class: "subform" },
            h("legend", { class: "small" }, h("span", { class: "font-monospace" }, field.name), " ", h("span", { class: "text-body-secondary" }, field.type)),
            fields(dep.fields, value, path, deps, inputs, dep.constants),
          ),
        ),
      );
    } else {
      row.append(leaf(field, value, path, inputs));
    }
  }
  if (constants?.length) {
    row.append(
      h(
        "div",
        { class: "col-12 small text-body-secondary font-monospace constants" },
        constants.map((c) => `${c.name}=${JSON.stringify(c.value)}`).join("  "),
      ),
    );
  }
  return row;
}

/**
 * Build the form of a message schema (`fields`, `default`, `dependencies`) into `container`.
 * Returns {value(), showError(field, message), clearErrors(), empty}.
 */
export function buildForm(container, schema) {
  const inputs = [];
  container.replaceChildren();
  if (!schema.fields.length) {
    container.append(h("p", { class: "small text-body-secondary mb-0" }, "no fields"));
  } else {
    container.append(fields(schema.fields, schema.default, "", schema.dependencies || {}, inputs, schema.constants));
  }
  const clearErrors = () => {
    for (const { input } of inputs) input.classList.remove("is-invalid");
  };
  const showError = (path, message) => {
    const match =
      inputs.find((i) => i.path === path) ||
      inputs.find((i) => path && (i.path.startsWith(`${path}.`) || path.startsWith(`${i.path}[`) || path.startsWith(`${i.path}.`)));
    if (!match) return false;
    match.input.classList.add("is-invalid");
    const feedback = match.input.parentElement.querySelector(".invalid-feedback");
    if (feedback) feedback.textContent = message;
    match.input.focus();
    return true;
  };
  const value = () => {
    clearErrors();
    const out = structuredClone(schema.default);
    for (const { path, kind, input, nsecs } of inputs) {
      let v;
      if (kind === "bool") v = input.checked;
      else if (kind === "string") v = input.value;
      else if (kind === "int" || kind === "float") {
        v = input.value.trim() === "" ? 0 : Number(input.value);
        if (!Number.isFinite(v) || (kind === "int" && !Number.isInteger(v))) {
          showError(path, `expects ${kind === "int" ? "an integer" : "a number"}`);
          throw new Error(`${path}: expects ${kind === "int" ? "an integer" : "a number"}`);
        }
      } else if (kind === "time") {
        v = { secs: Number(input.value) || 0, nsecs: Number(nsecs.value) || 0 };
      } else {
        try {
          v = JSON.parse(input.value || "null");
        } catch (err) {
          showError(path, "is not valid JSON");
          throw new Error(`${path}: not valid JSON`);
        }
      }
      setPath(out, path, v);
    }
    return out;
  };
  return { value, showError, clearErrors, empty: inputs.length === 0 };
}

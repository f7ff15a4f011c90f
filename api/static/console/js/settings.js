// The admin's settings form for one event. The API is the judge: the form does no validation
// of its own (novalidate) and shows the API's problem+json messages next to the fields they
// name, so the operator reads exactly what any other client would be told.

import { ApiError } from "./api.js";
import { checkbox, field, fill, h, setFieldError } from "./dom.js";
import { has } from "./seats.js";

/** The settings an admin may change, in form order, with their labels, kinds and choices:
 * served by the API from the settings' declaration (models/domain/settings.py), not restated here. */
export const SETTINGS = await fetch(new URL("../settings.json", import.meta.url), {
  headers: { Accept: "application/json" },
}).then((response) => {
  if (!response.ok) throw new Error(`settings.json: ${response.status}`);
  return response.json();
});
// Settings of the contract's v1: an event always has them. The others are shown only when the
// event's JSON carries them (v2 and later).
const V1_SETTINGS = new Set(["capacity", "waitlistEnabled"]);

export function settingsOf(event) {
  return SETTINGS.filter((setting) => V1_SETTINGS.has(setting.name) || has(event, setting.name));
}

const INTEGER = /^-?[0-9]+$/;
// Conflicts the API reports without a field list, and the field each one is about.
const CODE_FIELDS = {
  CAPACITY_BELOW_REGISTERED: "capacity",
  CAPACITY_BELOW_PARTY_SIZE: "capacity",
};

function control(setting, value) {
  if (setting.kind === "boolean") {
    return h("input", { type: "checkbox", name: setting.name, checked: value === true });
  }
  if (setting.kind === "choice") {
    const select = h(
      "select",
      { name: setting.name },
      setting.choices.map((choice) => h("option", { value: choice }, choice)),
    );
    select.value = value ?? setting.choices[0];
    return select;
  }
  const input = h("input", {
    type: "text",
    name: setting.name,
    inputmode: setting.kind === "integer" ? "numeric" : null,
    autocomplete: "off",
    spellcheck: "false",
  });
  input.value = value === null || value === undefined ? "" : String(value);
  return input;
}

/** The form's value for a setting, as JSON. Text that is not an integer is sent as text, so
 * the API's own message explains what is wrong with it. */
function read(form, setting) {
  const element = form.elements.namedItem(setting.name);
  if (setting.kind === "boolean") return element.checked;
  if (setting.kind === "choice") return element.value;
  const text = element.value.trim();
  if (setting.kind === "integer") return INTEGER.test(text) ? Number(text) : text;
  return text === "" ? null : text; // a time: empty clears it
}

export class SettingsForm {
  /**
   * @param {HTMLElement} container
   * @param {{api: import("./api.js").Api, eventId: string, onSaved: (event: object) => void}} options
   */
  constructor(container, { api, eventId, onSaved }) {
    this.container = container;
    this.api = api;
    this.eventId = eventId;
    this.onSaved = onSaved;
    this.baseline = null;
    this.settings = [];
  }

  /** Build the form from an event; later snapshots do not overwrite what is being typed. */
  show(event) {
    this.settings = settingsOf(event);
    this.baseline = Object.fromEntries(this.settings.map((s) => [s.name, event[s.name] ?? null]));
    const fields = this.settings.map((setting) => {
      const id = `setting-${setting.name}`;
      const input = control(setting, event[setting.name]);
      if (setting.kind === "boolean") return checkbox({ id, label: setting.label, control: input });
      return field({ id, label: setting.label, control: input, hint: setting.hint });
    });
    this.status = h("p", { class: "form-status", role: "status" });
    this.alert = h("div", { class: "form-alert", role: "alert", tabindex: "-1", hidden: true });
    this.form = h(
      "form",
      {
        method: "post",
        novalidate: true,
        "aria-labelledby": "settings-title",
        onsubmit: (e) => this.submit(e),
      },
      this.alert,
      fields,
      h("div", { class: "actions" }, h("button", { type: "submit" }, "Save settings"), this.status),
    );
    fill(this.container, this.form);
  }

  clearErrors() {
    for (const setting of this.settings) setFieldError(`setting-${setting.name}`, null);
    this.alert.hidden = true;
    this.alert.replaceChildren();
  }

  changes() {
    const changed = {};
    for (const setting of this.settings) {
      const value = read(this.form, setting);
      if (value !== this.baseline[setting.name]) changed[setting.name] = value;
    }
    return changed;
  }

  async submit(domEvent) {
    domEvent.preventDefault();
    this.clearErrors();
    const changes = this.changes();
    if (Object.keys(changes).length === 0) {
      this.status.textContent = "Nothing to save: no setting was changed.";
      return;
    }
    const button = this.form.querySelector("button[type=submit]");
    button.disabled = true;
    this.status.textContent = "Saving…";
    try {
      const event = await this.api.updateEvent(this.eventId, changes);
      this.show(event);
      this.status.textContent = `Saved: ${Object.keys(changes).join(", ")}.`;
      this.onSaved(event);
    } catch (error) {
      button.disabled = false;
      this.status.textContent = "";
      this.showProblem(error);
    }
  }

  /** Each `errors` item next to its field; what names no field of the form goes on top. */
  showProblem(error) {
    if (!(error instanceof ApiError)) throw error;
    const unplaced = [];
    let first = null;
    for (const item of error.errors) {
      const name = String(item.field ?? "").split(".")[0];
      const id = `setting-${name}`;
      if (this.settings.some((s) => s.name === name) && setFieldError(id, item.message)) {
        first ??= id;
      } else {
        unplaced.push(`${item.field}: ${item.message}`);
      }
    }
    const codeField = CODE_FIELDS[error.code];
    if (
      error.errors.length === 0 &&
      codeField &&
      setFieldError(`setting-${codeField}`, error.detail)
    ) {
      first = `setting-${codeField}`;
    }
    if (first === null || unplaced.length > 0) {
      this.alert.hidden = false;
      fill(
        this.alert,
        h("p", {}, `${error.code ?? "Error"} (${error.status}): ${error.detail}`),
        unplaced.length
          ? h(
              "ul",
              {},
              unplaced.map((line) => h("li", {}, line)),
            )
          : null,
      );
    }
    (first ? document.getElementById(first) : this.alert)?.focus();
  }
}

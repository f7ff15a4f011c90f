// Safe DOM building. Text always becomes a text node and attributes go through setAttribute,
// so a value from the API (a name, a title, an id) can never become markup. No markup strings
// anywhere: the page's CSP enforces Trusted Types, so assigning a string as HTML would throw.

const SVG_NS = "http://www.w3.org/2000/svg";

function build(element, props, children) {
  for (const [name, value] of Object.entries(props ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

/** An HTML element: h("a", {href: "#/events"}, "Events"). */
export function h(tag, props, ...children) {
  return build(document.createElement(tag), props, children);
}

/** An SVG element, the same way. */
export function s(tag, props, ...children) {
  return build(document.createElementNS(SVG_NS, tag), props, children);
}

/** Replace an element's content (text stays text). */
export function fill(element, ...children) {
  element.replaceChildren();
  return build(element, {}, children);
}

/** A label + control pair with an error slot, wired for screen readers. */
export function field({ id, label, control, hint }) {
  control.id = id;
  const error = h("p", { class: "field-error", id: `${id}-error`, hidden: true });
  const described = [hint ? `${id}-hint` : null, `${id}-error`].filter(Boolean).join(" ");
  control.setAttribute("aria-describedby", described);
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null,
    control,
    error,
  );
}

/** A checkbox followed by its label, with an error slot. */
export function checkbox({ id, label, control }) {
  control.id = id;
  control.setAttribute("aria-describedby", `${id}-error`);
  return h(
    "div",
    { class: "field checkbox" },
    control,
    h("label", { for: id }, label),
    h("p", { class: "field-error", id: `${id}-error`, hidden: true }),
  );
}

/** Show (or clear, with null) a message under a field made by `field()`. */
export function setFieldError(id, message) {
  const control = document.getElementById(id);
  const slot = document.getElementById(`${id}-error`);
  if (!control || !slot) return false;
  slot.textContent = message ?? "";
  slot.hidden = !message;
  if (message) control.setAttribute("aria-invalid", "true");
  else control.removeAttribute("aria-invalid");
  return true;
}

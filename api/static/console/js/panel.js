// Pieces the board's panels share: a titled section, a scrollable table region, a user cell.

import { h } from "./dom.js";

/** A <section> titled by its own <h2>, for landmarks and headings navigation. */
export function panel(id, title, ...content) {
  return h(
    "section",
    { id, class: "panel", "aria-labelledby": `${id}-title` },
    h("h2", { id: `${id}-title` }, title),
    ...content,
  );
}

/** A table that scrolls sideways on a narrow screen, reachable and scrollable by keyboard. */
export function scrollingTable(label, table) {
  return h("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": label }, table);
}

/** Column headers; a label starting with "#" is numeric (right-aligned). */
export function tableHead(labels) {
  return h(
    "thead",
    {},
    h(
      "tr",
      {},
      labels
        .filter(Boolean)
        .map((label) =>
          label.startsWith("#")
            ? h("th", { scope: "col", class: "num" }, label.slice(1))
            : h("th", { scope: "col" }, label),
        ),
    ),
  );
}

/** A user's name (when known) above their id. */
export function userCell(userId, names) {
  const name = names.nameOf(userId);
  return h(
    "td",
    { class: "user" },
    name ? h("span", { class: "name" }, name) : null,
    h("code", {}, userId),
  );
}

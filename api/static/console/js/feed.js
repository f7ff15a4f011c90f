// The live feed: the latest messages of the event's update stream, newest first.

import { h } from "./dom.js";
import { clock } from "./format.js";
import { panel } from "./panel.js";

const MAX_ITEMS = 60;

function describe(type, data) {
  const result = data?.result;
  if (type === "ticket.completed") {
    if (data.status === "failed") return "ticket failed";
    if (!result) return `ticket ${data.status ?? "completed"}`;
    const parts = [result.status];
    if (result.code) parts.push(`(${result.code})`);
    if (Number.isFinite(result.position)) parts.push(`at position ${result.position}`);
    return parts.join(" ");
  }
  if (type === "registration.promoted") return "promoted from the line";
  return type.replace(/[._]/g, " ");
}

export class FeedPanel {
  constructor(names) {
    this.names = names;
    // Not announced item by item: at launch rates that would drown a screen reader.
    this.list = h("ol", { id: "feed-list", class: "feed", "aria-live": "off" });
    this.element = panel(
      "feed",
      "Live feed",
      h(
        "p",
        { class: "hint" },
        `Newest first; the last ${MAX_ITEMS} messages of the update stream.`,
      ),
      this.list,
    );
  }

  add(type, data, at = Date.now()) {
    const userId = typeof data?.userId === "string" ? data.userId : "";
    const item = h(
      "li",
      { class: `feed-item kind-${type.replace(/[^a-z]/g, "-")}` },
      h(
        "div",
        { class: "feed-meta" },
        h("time", { datetime: new Date(at).toISOString() }, clock(at)),
        " ",
        h("span", { class: "badge" }, type),
        data?.ticketId ? [" ", h("code", { class: "ticket" }, data.ticketId)] : null,
      ),
      h(
        "div",
        { class: "feed-what" },
        h("span", { class: "name" }, this.names.nameOf(userId) ?? ""),
        " ",
        h("code", { class: "uid" }, userId),
        " ",
        h("span", { class: "what" }, describe(type, data)),
      ),
    );
    item.dataset.ticketId = data?.ticketId ?? "";
    item.dataset.userId = userId;
    this.list.prepend(item);
    while (this.list.children.length > MAX_ITEMS) this.list.lastElementChild.remove();
  }

  /** Fill in the names that have arrived since their lines were added. */
  showNames() {
    for (const item of this.list.children) {
      const slot = item.querySelector(".name");
      if (slot.textContent) continue;
      const name = this.names.nameOf(item.dataset.userId);
      if (name) slot.textContent = name;
    }
  }
}

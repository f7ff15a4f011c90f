// One event's live board: its seats, the line, open offers, the settling chart, the live feed,
// the ledger and, for admin keys, its settings. The panels render what they are given; the
// board loads snapshots from the API and listens to the update stream, which only says when to
// load again (throttled), so a burst of messages costs a handful of API calls and the board
// always ends on the latest state.

import { ApiError } from "./api.js";
import { ApplicationsPanel } from "./applications-panel.js";
import { fill, h } from "./dom.js";
import { DrawPanel } from "./draw-panel.js";
import { FeedPanel } from "./feed.js";
import { LedgerFollower } from "./ledger.js";
import { LedgerPanel } from "./ledger-panel.js";
import { LinePanel, OffersPanel } from "./line-panel.js";
import { Names } from "./names.js";
import { panel } from "./panel.js";
import { SeatsPanel } from "./seats-panel.js";
import { seatFigures } from "./seats.js";
import { SettingsForm } from "./settings.js";
import { SettlingPanel } from "./settling-panel.js";
import { ReconnectingEventStream } from "./sse.js";
import { throttled } from "./throttle.js";

const EVENT_REFRESH_MS = 150; // the counts follow the stream within a fraction of a second
const LINE_REFRESH_MS = 1000; // the line can be long: at most once a second, slower if slow
const LEDGER_REFRESH_MS = 500; // only new entries are read, but each is hashed
const POLL_MS = 5000; // a safety net should the stream be down
const SETTLED = "ticket.completed";

/** Does this message follow a new ledger entry? (The poll catches the others: event updates
 * made elsewhere, user deletions.) */
function writesLedger(type) {
  return type === SETTLED || type.startsWith("offer.") || type.startsWith("registration.");
}

export class Board {
  /**
   * @param {HTMLElement} main
   * @param {{api: import("./api.js").Api, isAdmin: boolean, announce: (text: string) => void,
   *          signOut: (reason: string) => void}} app
   * @param {string} eventId
   */
  constructor(main, app, eventId) {
    this.main = main;
    this.app = app;
    this.api = app.api;
    this.eventId = eventId;
    this.event = null;
    this.lineLoadMs = 0;
    this.controller = new AbortController();
    this.names = new Names(this.api, () => this.render());
    this.seats = new SeatsPanel();
    this.settling = new SettlingPanel();
    this.line = new LinePanel(this.names);
    this.offers = new OffersPanel(this.names);
    this.feed = new FeedPanel(this.names);
    this.ledgerPanel = new LedgerPanel();
    this.drawPanel = new DrawPanel();
    this.ledger = new LedgerFollower((after, limit) =>
      this.api.ledger(this.eventId, { after, limit }, this.controller.signal),
    );
    this.settings = null;
    this.applications = app.isAdmin
      ? new ApplicationsPanel({
          api: this.api,
          eventId,
          names: this.names,
          announce: app.announce,
          onDecided: () => this.refreshEvent(),
        })
      : null;
    this.refreshEvent = throttled(() => this.loadEvent(), EVENT_REFRESH_MS);
    this.refreshLine = throttled(
      () => this.loadLine(),
      () => Math.max(LINE_REFRESH_MS, this.lineLoadMs * 4),
    );
    this.refreshLedger = throttled(() => this.loadLedger(), LEDGER_REFRESH_MS);
    this.timers = [];
    this.stream = null;
  }

  start() {
    this.layout();
    this.refreshEvent();
    this.refreshLine();
    this.refreshLedger();
    this.stream = new ReconnectingEventStream(this.api.updatesUrl(this.eventId), {
      headers: this.api.headers(),
      onEvent: (message) => this.onMessage(message),
      onState: (state, problem) => this.onStreamState(state, problem),
    }).start();
    this.timers.push(
      setInterval(() => this.tick(), 1000),
      setInterval(() => {
        this.refreshEvent();
        this.refreshLine();
        this.refreshLedger();
      }, POLL_MS),
    );
    this.tick();
    window.addEventListener("resize", this.redrawChart);
  }

  // The chart is drawn to its box's width: a new width, a new drawing.
  redrawChart = () => this.settling.tick();

  stop() {
    window.removeEventListener("resize", this.redrawChart);
    this.controller.abort();
    this.stream?.close();
    this.refreshEvent.stop();
    this.refreshLine.stop();
    this.refreshLedger.stop();
    this.names.stop();
    this.applications?.stop();
    for (const timer of this.timers) clearInterval(timer);
  }

  layout() {
    this.title = h("h1", { id: "board-title", tabindex: "-1" }, this.eventId);
    this.meta = h("p", { class: "meta", id: "board-meta" });
    this.status = h("p", { class: "board-status", id: "board-status", role: "status" });
    let settings = null;
    if (this.app.isAdmin) {
      const box = h("div", {}, h("p", {}, "Loading…"));
      settings = panel("settings", "Settings", box);
      this.settings = new SettingsForm(box, {
        api: this.api,
        eventId: this.eventId,
        onSaved: (event) => {
          this.showEvent(event);
          this.app.announce("Settings saved.");
          this.refreshLine();
          this.refreshLedger();
        },
      });
    }
    fill(
      this.main,
      h("p", { class: "crumb" }, h("a", { href: "#/events" }, "← All events")),
      this.title,
      this.meta,
      this.status,
      h(
        "div",
        { class: "board" },
        h(
          "div",
          { class: "column" },
          this.seats.element,
          this.drawPanel.element,
          this.settling.element,
          this.offers.element,
          this.ledgerPanel.element,
          settings,
        ),
        h(
          "div",
          { class: "column" },
          this.applications?.element,
          this.line.element,
          this.feed.element,
        ),
      ),
    );
  }

  // --- loading ------------------------------------------------------------------------

  async loadEvent() {
    try {
      this.showEvent(await this.api.event(this.eventId, this.controller.signal));
      this.status.textContent = "";
    } catch (error) {
      this.onLoadError(error);
    }
  }

  async loadLine() {
    const started = performance.now();
    const { signal } = this.controller;
    try {
      const line = await this.api.waitlist(this.eventId, signal);
      // Offers exist only where the API has them (v2); a v1 event says nothing of them.
      const hasOffers = this.event !== null && seatFigures(this.event).offers;
      const offers = hasOffers ? await this.api.offers(this.eventId, signal) : null;
      this.lineLoadMs = performance.now() - started;
      const parties = this.event !== null && seatFigures(this.event).parties;
      this.line.show(Array.isArray(line) ? line : [], parties);
      this.offers.show(Array.isArray(offers) ? offers : null);
      this.names.want([...this.line.shownUsers(), ...this.offers.shownUsers()]);
    } catch (error) {
      this.onLoadError(error);
    }
  }

  async loadLedger() {
    try {
      await this.ledger.follow(() => this.ledgerPanel.show(this.ledger)); // a long one: progress
      this.ledgerPanel.show(this.ledger);
      this.drawPanel.showDraw(this.ledger.draw);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404 && error.code !== "EVENT_NOT_FOUND") {
        // An API from before the ledger: nothing to follow.
        this.refreshLedger.stop();
        this.ledgerPanel.showProblem("This API keeps no ledger.");
        return;
      }
      // What was read and checked before the failure stays; the next refresh goes on from it.
      this.ledgerPanel.show(this.ledger);
      this.onLoadError(error);
    }
  }

  onLoadError(error) {
    if (error?.name === "AbortError") return;
    if (error instanceof ApiError && error.code === "EVENT_NOT_FOUND") {
      this.stop();
      this.status.textContent = "This event does not exist (or was deleted).";
      this.settling.showStream("closed");
      return;
    }
    this.status.textContent = `Could not refresh: ${error?.detail ?? error}`;
  }

  onMessage(message) {
    let data = null;
    try {
      data = JSON.parse(message.data);
    } catch {
      return; // not a message this board can read
    }
    const at = Date.now();
    if (message.type === SETTLED) this.settling.settled(data, at);
    if (typeof data?.userId === "string") this.names.want([data.userId]);
    this.feed.add(message.type, data, at);
    this.refreshEvent();
    this.refreshLine();
    if (writesLedger(message.type)) this.refreshLedger();
  }

  onStreamState(state, problem) {
    this.settling.showStream(state, problem);
    if (state === "open") {
      this.refreshEvent(); // whatever happened while the stream was down
      this.refreshLine();
      this.refreshLedger();
    }
    if (state === "failed" && problem?.status === 401) this.app.signOut("The key was refused.");
  }

  // --- rendering ----------------------------------------------------------------------

  showEvent(event) {
    const first = this.event === null;
    this.event = event;
    this.title.textContent = event.title || event.eventId;
    fill(
      this.meta,
      h("code", {}, event.eventId),
      ` · ${event.date} · ${event.location} · organised by ${event.organizer} · status `,
      h("strong", {}, event.status),
      event.waitlistEnabled ? " · waitlist on" : " · waitlist off",
    );
    if (first) document.title = `${event.title} · Tessera console`;
    this.seats.show(seatFigures(event));
    this.applications?.showEvent(event);
    this.drawPanel.showEvent(event);
    if (first && this.settings) this.settings.show(event);
  }

  /** Names arrived: the panels that show users draw again. */
  render() {
    this.line.render();
    this.offers.render();
    this.feed.showNames();
    this.applications?.render();
  }

  tick() {
    this.settling.tick();
    this.drawPanel.tick();
    this.line.render(); // "waiting for" and "expires in" count on
    this.offers.render();
  }
}

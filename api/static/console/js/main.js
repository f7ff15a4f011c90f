// The console's entry point: sign-in, the header, and a hash router over the views
// (#/events, #/events/<id>, #/tickets[/<id>], and an attendee's #/mine). Every view has
// start() and stop(). Which views a credential gets follows from the role the API showed at
// sign-in: an attendee's event page is its own view, so no panel it may not read is started.

import { Api, ApiError } from "./api.js";
import { AttendeeEvent, MyPlaces } from "./attendee.js";
import { Board } from "./board.js";
import { field, fill, h } from "./dom.js";
import { EventsList } from "./events.js";
import { NotAnAttendee, whoIs } from "./principal.js";
import { forget, remember, storedKey, storedRole, storedUser } from "./session.js";
import { TicketLookup } from "./tickets.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const who = document.getElementById("who");
const roleText = document.getElementById("role");
const announcer = document.getElementById("announcer");

let view = null;
let app = null;

function announce(text) {
  announcer.textContent = "";
  // a fresh text node after a tick, so that a repeated message is read again
  setTimeout(() => {
    announcer.textContent = text;
  }, 50);
}

function signOut(reason) {
  forget();
  app = null;
  view?.stop();
  view = null;
  showSignIn(reason);
}

function session(key, role, userId) {
  const isAttendee = role === "attendee";
  const refused = isAttendee
    ? "The API refused the token (401); it may have expired. Sign in again."
    : "The API refused the key (401). Sign in again.";
  return {
    api: new Api(key, { onUnauthorized: () => signOut(refused) }),
    isAdmin: role === "admin",
    isAttendee,
    userId: isAttendee ? userId : null,
    announce,
    signOut,
  };
}

function route() {
  const hash = location.hash.startsWith("#/") ? location.hash.slice(2) : "events";
  const [section, rawId] = hash.split("/", 2);
  let id = rawId || null;
  try {
    id = rawId ? decodeURIComponent(rawId) : null;
  } catch {
    // a malformed escape: look the text up as it is, and let the API say it names nothing
  }
  if (section === "events" && id) {
    const View = app.isAttendee ? AttendeeEvent : Board;
    return { name: "board", make: () => new View(main, app, id) };
  }
  if (section === "mine" && app.isAttendee) {
    return { name: "mine", make: () => new MyPlaces(main, app) };
  }
  if (section === "tickets")
    return { name: "tickets", make: () => new TicketLookup(main, app, id) };
  return { name: "events", make: () => new EventsList(main, app) };
}

function render() {
  if (!app) return;
  view?.stop();
  const next = route();
  view = next.make();
  view.start();
  for (const link of nav.querySelectorAll("a")) {
    const current =
      link.dataset.view === next.name || (next.name === "board" && link.dataset.view === "events");
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (next.name !== "board") document.title = "Tessera console";
  // Move focus to the new page's heading, as a page load would.
  main.querySelector("h1")?.focus();
}

function showHeader(signedIn, role, userId) {
  nav.hidden = !signedIn;
  who.hidden = !signedIn;
  for (const link of nav.querySelectorAll("[data-for]")) link.hidden = link.dataset.for !== role;
  if (!signedIn) roleText.textContent = "";
  else roleText.textContent = role === "attendee" ? `attendee ${userId}` : `${role} key`;
}

function showSignIn(reason) {
  showHeader(false);
  document.title = "Sign in · Tessera console";
  const input = h("input", {
    type: "password",
    name: "key",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
  });
  const alert = h(
    "p",
    { class: "form-alert", role: "alert", id: "sign-in-alert", hidden: !reason },
    reason ?? "",
  );
  const button = h("button", { type: "submit" }, "Sign in");
  const form = h(
    "form",
    {
      method: "post",
      id: "sign-in",
      novalidate: true,
      onsubmit: (e) => signIn(e, input, alert, button),
    },
    field({
      id: "api-key",
      label: "API key or attendee token",
      control: input,
      hint: "Kept in this tab only; sent to the API as a Bearer header.",
    }),
    button,
  );
  fill(main, h("div", { class: "sign-in" }, h("h1", { tabindex: "-1" }, "Sign in"), alert, form));
  input.focus();
}

async function signIn(domEvent, input, alert, button) {
  domEvent.preventDefault();
  const key = input.value.trim();
  const fail = (text) => {
    alert.textContent = text;
    alert.hidden = false;
    button.disabled = false;
    input.focus();
  };
  if (!key) return fail("Enter an API key or an attendee token.");
  button.disabled = true;
  try {
    const { role, userId } = await whoIs(new Api(key), key);
    remember(key, role, userId);
    start(key, role, userId);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      fail("The API refused this key or token (401).");
    } else if (error instanceof NotAnAttendee) fail(error.message);
    else fail(`Could not sign in: ${error?.detail ?? error}`);
  }
}

function start(key, role, userId) {
  app = session(key, role, userId);
  showHeader(true, role, userId);
  if (!location.hash.startsWith("#/")) history.replaceState(null, "", "#/events");
  render();
}

document.getElementById("skip").addEventListener("click", (domEvent) => {
  domEvent.preventDefault(); // the hash is the router's: move focus without touching it
  (main.querySelector("h1") ?? main).focus();
});
document.getElementById("sign-out").addEventListener("click", () => signOut("Signed out."));
window.addEventListener("hashchange", () => {
  if (location.hash.startsWith("#/")) render();
});

const key = storedKey();
// An attendee's pages are built from its userId: without one, ask the API again.
const usable = key && (storedRole() !== "attendee" || storedUser());
if (usable) start(key, storedRole(), storedUser());
else showSignIn(null);

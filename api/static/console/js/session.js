// The signed-in credential (an API key or an attendee token), the principal the API showed it
// to be, and an attendee's tickets made here: in this tab's sessionStorage only, never in a
// URL, a cookie or localStorage, and gone when the tab closes.

const KEY = "tessera.console.key";
const ROLE = "tessera.console.role";
const USER = "tessera.console.user";
const TICKETS = "tessera.console.tickets";
// The API has no "my tickets" call: an attendee's list is the tickets this tab created.
const MAX_TICKETS = 50;

export function storedKey() {
  return sessionStorage.getItem(KEY);
}

export function storedRole() {
  return sessionStorage.getItem(ROLE) ?? "client";
}

/** The attendee's own userId (null for a key). */
export function storedUser() {
  return sessionStorage.getItem(USER);
}

export function remember(key, role, userId = null) {
  sessionStorage.setItem(KEY, key);
  sessionStorage.setItem(ROLE, role);
  if (userId) sessionStorage.setItem(USER, userId);
  else sessionStorage.removeItem(USER);
}

export function forget() {
  for (const name of [KEY, ROLE, USER, TICKETS]) sessionStorage.removeItem(name);
}

/** The ids of the tickets this tab's commands created, newest first. */
export function storedTickets() {
  try {
    const ids = JSON.parse(sessionStorage.getItem(TICKETS) ?? "[]");
    return Array.isArray(ids) ? ids.filter((id) => typeof id === "string") : [];
  } catch {
    return [];
  }
}

export function rememberTicket(ticketId) {
  const ids = [ticketId, ...storedTickets().filter((id) => id !== ticketId)];
  sessionStorage.setItem(TICKETS, JSON.stringify(ids.slice(0, MAX_TICKETS)));
}

// The public HTTP API, called with the signed-in API key or attendee token as a Bearer header.
// The console has no other way in: whatever the credential may not do, the page cannot either.

/** The API's problem+json answer (or a network failure, status 0) as an exception. */
export class ApiError extends Error {
  constructor(status, problem) {
    const body = problem && typeof problem === "object" ? problem : {};
    super(body.detail || body.title || `HTTP ${status}`);
    this.status = status;
    this.code = body.code ?? null;
    this.detail = body.detail ?? this.message;
    this.errors = Array.isArray(body.errors) ? body.errors : [];
    this.requestId = body.requestId ?? null;
  }
}

const segment = (value) => encodeURIComponent(String(value));
// Any valid event id does; this one says in the request log why it was asked for.
const ROLE_PROBE_EVENT = "console-role-probe";

export class Api {
  /**
   * @param {string} key the Bearer key
   * @param {{onUnauthorized?: (error: ApiError) => void, base?: URL}} options
   */
  constructor(key, { onUnauthorized = () => {}, base } = {}) {
    this.key = key;
    this.onUnauthorized = onUnauthorized;
    // The API is the origin the page came from; relative so a path prefix keeps working.
    this.base = base ?? new URL(".", document.baseURI);
  }

  url(path, query = {}) {
    const url = new URL(path.replace(/^\//, ""), this.base);
    for (const [name, value] of Object.entries(query)) {
      if (value !== null && value !== undefined && value !== "") {
        url.searchParams.set(name, String(value));
      }
    }
    return url;
  }

  headers(extra = {}) {
    return { Authorization: `Bearer ${this.key}`, ...extra };
  }

  async request(method, path, { query, body, signal, headers: extra } = {}) {
    const headers = this.headers({ Accept: "application/json", ...extra });
    const init = { method, headers, signal, cache: "no-store", credentials: "omit" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(this.url(path, query), init);
    } catch (error) {
      if (error?.name === "AbortError") throw error;
      throw new ApiError(0, { code: "NETWORK", detail: "The API could not be reached." });
    }
    if (response.status === 204) return null;
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = { detail: `HTTP ${response.status}: the answer was not JSON.` };
    }
    if (!response.ok) {
      const error = new ApiError(response.status, data);
      if (response.status === 401) this.onUnauthorized(error);
      throw error;
    }
    return data;
  }

  // --- what the console reads and changes ---------------------------------------------

  listEvents({ status, cursor, limit = 20 } = {}, signal) {
    return this.request("GET", "events", { query: { status, cursor, limit }, signal });
  }

  event(eventId, signal) {
    return this.request("GET", `events/${segment(eventId)}`, { signal });
  }

  waitlist(eventId, signal) {
    return this.request("GET", `events/${segment(eventId)}/waitlist`, { signal });
  }

  offers(eventId, signal) {
    return this.request("GET", `events/${segment(eventId)}/offers`, { signal });
  }

  /** A page of the event's ledger: the entries after index `after` (at most `limit`). */
  ledger(eventId, { after = 0, limit = 1000 } = {}, signal) {
    return this.request("GET", `events/${segment(eventId)}/ledger`, {
      query: { after, limit },
      signal,
    });
  }

  updateEvent(eventId, changes) {
    return this.request("PUT", `events/${segment(eventId)}`, { body: changes });
  }

  user(userId, signal) {
    return this.request("GET", `users/${segment(userId)}`, { signal });
  }

  ticket(ticketId, signal) {
    return this.request("GET", `tickets/${segment(ticketId)}`, { signal });
  }

  /** Where one user stands at an event (404 REGISTRATION_NOT_FOUND: nowhere). */
  standing(eventId, userId, signal) {
    return this.request("GET", `events/${segment(eventId)}/registrations/${segment(userId)}`, {
      signal,
    });
  }

  /** A user's registrations, waitlist places or open offers (`kind`), across events. */
  userPlaces(userId, kind, signal) {
    return this.request("GET", `users/${segment(userId)}/${segment(kind)}`, { signal });
  }

  /** Commands: each answers 202 with a pending ticket. */
  register(eventId, body) {
    return this.request("POST", `events/${segment(eventId)}/registrations`, { body });
  }

  unregister(eventId, userId) {
    return this.request("DELETE", `events/${segment(eventId)}/registrations/${segment(userId)}`);
  }

  answerOffer(eventId, userId, answer) {
    const path = `events/${segment(eventId)}/offers/${segment(userId)}/${segment(answer)}`;
    return this.request("POST", path, { body: {} });
  }

  /** Pending applications (`admission: "approval"`), in acceptance order. */
  applications(eventId, signal) {
    return this.request("GET", `events/${segment(eventId)}/applications`, { signal });
  }

  /** Approve or reject (`decision`) an application; the key makes a resend safe. */
  decide(eventId, userId, decision, idempotencyKey) {
    const path = `events/${segment(eventId)}/applications/${segment(userId)}/${segment(decision)}`;
    return this.request("POST", path, { body: {}, headers: { "Idempotency-Key": idempotencyKey } });
  }

  /** The ticket once it has left `pending`, or as it is after `seconds`. */
  awaitTicket(ticketId, seconds, signal) {
    return this.request("GET", `tickets/${segment(ticketId)}`, {
      query: { wait: seconds },
      signal,
    });
  }

  updatesUrl(eventId) {
    return this.url(`events/${segment(eventId)}/updates`);
  }

  /** May this credential read an event's roster? Keys may (an unknown event is 404, a known
   * one 200); an attendee token may not, and the API says so (403) before looking at the
   * event, so the id need name nothing. One read, nothing written. */
  async readsRosters() {
    try {
      await this.request("GET", `events/${ROLE_PROBE_EVENT}/registrations`);
      return true;
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return true;
      if (error instanceof ApiError && error.status === 403) return false;
      throw error;
    }
  }

  /** Does this key have the admin role? The API has no "who am I" call, so ask for something
   * only an admin may do with a body no one may send: the role check comes before the body
   * check, so a client key gets 403 and an admin key 422, and nothing is ever written. */
  async isAdmin() {
    try {
      await this.request("POST", "users", { body: {} });
      return true; // an empty body is never valid; had it been taken, only an admin could
    } catch (error) {
      if (error instanceof ApiError && error.status === 422) return true;
      if (error instanceof ApiError && error.status === 403) return false;
      throw error;
    }
  }
}

// Who a credential is, as the API shows it: an admin key, a client key, or an attendee token
// acting for one user. The page never decides authorization from a token's claims: the role is
// what the API answers, and the claims only offer candidates for the attendee's own userId,
// which the API then confirms (it refuses a userId that is not the token's own with 403).

import { ApiError } from "./api.js";

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
// Claims that name the token, its issuer or its audience, never the user.
const NOT_A_USER = new Set(["iss", "aud", "exp", "nbf", "iat", "jti", "azp", "sid", "nonce"]);
// The API's default user claim first (TESSERA_JWT_USER_CLAIM), then the usual alternatives.
const LIKELY = ["sub", "preferred_username", "user_id", "userId", "uid"];
const MAX_CANDIDATES = 4;

/** A JWT's claims, unverified (for display and the attendee's own URLs only), or null when
 * the credential is not three base64url parts with a JSON object in the middle. */
export function tokenClaims(credential) {
  const parts = credential.split(".");
  if (parts.length !== 3 || !parts.slice(0, 2).every((part) => BASE64URL.test(part))) {
    return null;
  }
  try {
    const base64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64.padEnd(Math.ceil(base64.length / 4) * 4, "=");
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    return claims !== null && typeof claims === "object" && !Array.isArray(claims) ? claims : null;
  } catch {
    return null;
  }
}

/** The claims that could hold the attendee's userId, most likely first. */
export function userCandidates(claims) {
  const names = [...LIKELY, ...Object.keys(claims).filter((name) => !LIKELY.includes(name))];
  return names
    .filter((name) => !NOT_A_USER.has(name) && typeof claims[name] === "string")
    .map((name) => claims[name])
    .filter((value, index, all) => ID.test(value) && all.indexOf(value) === index)
    .slice(0, MAX_CANDIDATES);
}

export class NotAnAttendee extends Error {}

/**
 * Ask the API who this credential is. A 401 from the first call means it is nobody.
 * @param {import("./api.js").Api} api
 * @returns {Promise<{role: "admin"|"client"|"attendee", userId: string|null, name: string|null}>}
 */
export async function whoIs(api, credential) {
  await api.listEvents({ limit: 1 }); // does the credential work at all?
  if (await api.readsRosters()) {
    const role = (await api.isAdmin()) ? "admin" : "client";
    return { role, userId: null, name: null };
  }
  const claims = tokenClaims(credential);
  for (const userId of claims ? userCandidates(claims) : []) {
    try {
      const user = await api.user(userId);
      return { role: "attendee", userId, name: user?.name ?? null };
    } catch (error) {
      // 404: the token's own user, not created yet (it may still browse events)
      if (error instanceof ApiError && error.code === "USER_NOT_FOUND") {
        return { role: "attendee", userId, name: null };
      }
      if (!(error instanceof ApiError && error.status === 403)) throw error;
    }
  }
  throw new NotAnAttendee(
    "The API accepts this credential but lets it read no roster, and no claim of it names " +
      "the user it acts for.",
  );
}

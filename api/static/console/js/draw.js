// The on-sale draw checked in the browser (pure: no DOM, no API): the seed against the
// commitment, each party's key (SHA-256 of seed ‖ closingHash ‖ UTF-8(userId)) and the order
// (ascending key), exactly as `tessera verify` recomputes them.

import { NOT_SECURE, canVerify } from "./ledger.js";

const HEX64 = /^[0-9a-f]{64}$/;

function bytesOf(hexText) {
  const bytes = new Uint8Array(hexText.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hexText.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

async function sha256(bytes) {
  return hex(await crypto.subtle.digest("SHA-256", bytes));
}

/** A party's key: hex SHA-256 of the seed's and the closing hash's raw bytes, then the id. */
export async function drawKey(seedHex, closingHash, userId) {
  const id = new TextEncoder().encode(userId);
  const joined = new Uint8Array(64 + id.length);
  joined.set(bytesOf(seedHex), 0);
  joined.set(bytesOf(closingHash), 32);
  joined.set(id, 64);
  return sha256(joined);
}

/** Check a draw entry's outcome against the commitment published before the pre-queue:
 *   {ok: true, parties}
 *   {ok: false, reason} (the first thing that does not follow)
 *   {ok: null, reason: NOT_SECURE} where the browser cannot hash. */
export async function verifyDraw(outcome, commitment) {
  if (!canVerify()) return { ok: null, reason: NOT_SECURE };
  const { seed, closingHash, drawn } = outcome ?? {};
  if (!HEX64.test(seed ?? "") || !HEX64.test(closingHash ?? "") || !Array.isArray(drawn)) {
    return { ok: false, reason: "the draw entry lacks its seed, closing hash or parties" };
  }
  if ((await sha256(bytesOf(seed))) !== commitment) {
    return { ok: false, reason: "the seed's SHA-256 is not the published commitment" };
  }
  const keys = await Promise.all(drawn.map((p) => drawKey(seed, closingHash, String(p.userId))));
  for (let i = 0; i < drawn.length; i++) {
    if (keys[i] !== drawn[i].key) {
      return { ok: false, reason: `party ${i + 1} (${drawn[i].userId}): its key does not follow` };
    }
    if (i > 0 && !(keys[i - 1] < keys[i])) {
      return { ok: false, reason: `party ${i + 1} (${drawn[i].userId}) is out of key order` };
    }
  }
  return { ok: true, parties: drawn.length };
}

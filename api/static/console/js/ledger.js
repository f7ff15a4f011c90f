// An event's ledger checked in the browser (pure: no DOM, no API): the contract's canonical
// JSON, each entry's SHA-256, the hash chain, and a few words on what an entry did.

export const GENESIS_HASH = "0".repeat(64);
export const NOT_SECURE = "cannot verify here (not a secure context)";

// --- canonical JSON -------------------------------------------------------------------------

/** Python's order of str keys: by code point. JS's default sort compares UTF-16 code units,
 * which puts U+E000–U+FFFF after the surrogates of every astral character; comparing the code
 * points at the first differing unit does not. (At a low surrogate, codePointAt gives the unit
 * itself; the high surrogates before it were equal, so the units order the code points.) */
export function compareKeys(a, b) {
  const shorter = Math.min(a.length, b.length);
  for (let i = 0; i < shorter; i++) {
    if (a.charCodeAt(i) !== b.charCodeAt(i)) return a.codePointAt(i) - b.codePointAt(i);
  }
  return a.length - b.length;
}

/** Exactly what Python's `json.dumps(value, sort_keys=True, separators=(",", ":"),
 * ensure_ascii=False)` writes, for what entries hold: strings, integers, booleans, null, arrays
 * and objects.
 *
 * Strings go through JSON.stringify, which escapes as Python does: `"`, `\` and U+0000–U+001F
 * (\b \f \n \r \t, else \u00xx in lowercase hex), and writes everything else as is, U+2028/9
 * and non-ASCII included. The one difference is a lone surrogate, which JSON.stringify escapes
 * and Python writes raw; Python cannot then encode the text to UTF-8, so no hashed entry holds
 * one, and an entry that does (tampered) fails its hash here, as it should.
 *
 * Numbers must be safe integers: Python writes 1.0 where JS has only 1, and an integer past
 * 2^53 was already rounded by JSON.parse, so anything else cannot be reproduced and throws. */
export function canonical(value) {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isSafeInteger(value)) {
        throw new TypeError(`not canonical: ${value} is not an integer an entry can hold`);
      }
      return String(value); // -0 reads "0", as Python's int does
    case "object": {
      if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
      const keys = Object.keys(value).sort(compareKeys);
      return `{${keys.map((key) => `${JSON.stringify(key)}:${canonical(value[key])}`).join(",")}}`;
    }
    default:
      throw new TypeError(`not canonical: a ${typeof value}`);
  }
}

// --- hashes ---------------------------------------------------------------------------------

/** crypto.subtle exists only in a secure context (https, or http on localhost/127.0.0.1). */
export function canVerify() {
  return Boolean(globalThis.isSecureContext && globalThis.crypto?.subtle);
}

function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** The lowercase hex SHA-256 of the entry without its `hash`, over its canonical UTF-8. */
export async function entryHash(entry) {
  const { hash: _ignored, ...unsealed } = entry;
  const bytes = new TextEncoder().encode(canonical(unsealed));
  return hex(await crypto.subtle.digest("SHA-256", bytes));
}

/** Check `entries` as the continuation of a chain whose last entry was `afterIndex` with hash
 * `prevHash` (0 and 64 zeros: from the start). The first break wins:
 *   {ok: true, count, lastIndex, head}
 *   {ok: false, index, reason, count} (count: the entries before the break that held)
 *   {ok: null, reason: NOT_SECURE} where the browser cannot hash. */
export async function verifyChain(entries, prevHash = GENESIS_HASH, afterIndex = 0) {
  if (!canVerify()) return { ok: null, reason: NOT_SECURE };
  // Hash the page at once (the digests run in parallel), then walk it in order.
  const hashes = await Promise.all(
    entries.map((entry) => entryHash(entry).catch((error) => error)),
  );
  let head = prevHash;
  let last = afterIndex;
  for (const [n, entry] of entries.entries()) {
    const broken = (reason) => ({ ok: false, index: entry?.index ?? last + 1, reason, count: n });
    if (entry?.index !== last + 1) {
      return broken(`index gap: entry ${last + 1} expected, ${entry?.index} found`);
    }
    if (entry.prevHash !== head) {
      return broken(
        last === 0
          ? "prevHash mismatch: the first entry must follow 64 zeros"
          : `prevHash mismatch: it is not entry ${last}'s hash`,
      );
    }
    const computed = hashes[n];
    if (computed instanceof Error) return broken(`cannot be hashed: ${computed.message}`);
    if (computed !== entry.hash) return broken("hash mismatch: the entry is not what was hashed");
    head = entry.hash;
    last = entry.index;
  }
  return { ok: true, count: entries.length, lastIndex: last, head };
}

// --- what an entry did, in a few words ----------------------------------------------------

const LISTED = 2;

function users(ids) {
  const shown = ids.slice(0, LISTED).join(", ");
  return ids.length > LISTED ? `${shown} +${ids.length - LISTED}` : shown;
}

function letIn(outcome) {
  const said = [];
  const promoted = Array.isArray(outcome?.promotedUserIds) ? outcome.promotedUserIds : [];
  const offered = Array.isArray(outcome?.offeredUserIds) ? outcome.offeredUserIds : [];
  if (promoted.length) said.push(`promoted ${users(promoted)}`);
  if (offered.length) said.push(`offered to ${users(offered)}`);
  return said;
}

function ticketSummary(outcome) {
  const status = String(outcome?.status ?? "?");
  if (status === "waitlisted" && Number.isInteger(outcome.position)) {
    return `waitlisted #${outcome.position}`;
  }
  if (status === "denied") return outcome.code ? `denied (${outcome.code})` : "denied";
  return status;
}

/** "registered", "waitlisted #3", "unregistered; offered to bob", "left (offered)"… */
export function summarize(entry) {
  const outcome = entry?.outcome ?? {};
  let first;
  switch (entry?.kind) {
    case "event_created":
      first = `created, capacity ${outcome.capacity}`;
      break;
    case "event_updated": {
      const changes = Object.entries(outcome.changes ?? {}).map(
        ([name, change]) => `${name} ${change?.from ?? "—"}→${change?.to ?? "—"}`,
      );
      first = changes.length ? changes.join(", ") : "updated";
      break;
    }
    case "ticket":
      first = ticketSummary(outcome);
      break;
    case "user_removed":
    case "offer_expired":
      first = `left (${outcome.left ?? "?"})`;
      break;
    default:
      first = String(entry?.kind ?? "?");
  }
  return [first, ...letIn(outcome)].join("; ");
}

// --- following a ledger ---------------------------------------------------------------------

export const PAGE_LIMIT = 1000;
export const RECENT = 20;

/** An event's ledger read from index 1 and then followed: every entry is fetched and hashed
 * once (each `follow()` asks only for what comes after the last entry seen), the latest
 * `RECENT` are kept for show, and the chain's verdict is carried along: verified so far, the
 * first break (entries after a break are still counted and shown, but nothing past a break can
 * be verified), or not verifiable in this browser. */
export class LedgerFollower {
  /** @param {(after: number, limit: number) => Promise<{items: object[], nextAfter: ?number}>}
   * fetchPage one page of the API's `GET /events/{id}/ledger` */
  constructor(fetchPage, { pageLimit = PAGE_LIMIT, keep = RECENT } = {}) {
    this.fetchPage = fetchPage;
    this.pageLimit = pageLimit;
    this.keep = keep;
    this.loaded = false; // the whole ledger has been read once
    this.length = 0; // entries seen (the last index)
    this.head = GENESIS_HASH; // hash of the last verified entry
    this.verified = 0;
    this.broken = null; // {index, reason}
    this.unverifiable = null; // why this browser cannot hash, if it cannot
    this.recent = []; // newest first
    this.draw = null; // the last `draw` entry read (the draw panel's)
  }

  /** Read everything new (`onPage` runs after each page); resolves to whether anything was. */
  async follow(onPage = () => {}) {
    let grew = false;
    for (;;) {
      const page = await this.fetchPage(this.length, this.pageLimit);
      const items = Array.isArray(page?.items) ? page.items : [];
      if (items.length) {
        await this.check(items);
        this.draw = items.findLast((entry) => entry?.kind === "draw") ?? this.draw;
        // The API pages by the stored index; a tampered entry's own may be anything.
        const last = items[items.length - 1]?.index;
        this.length =
          Number.isInteger(last) && last > this.length ? last : this.length + items.length;
        this.recent = [...items.slice(-this.keep).reverse(), ...this.recent].slice(0, this.keep);
        grew = true;
        onPage();
      }
      if (page?.nextAfter === null || page?.nextAfter === undefined || !items.length) break;
    }
    this.loaded = true;
    return grew;
  }

  async check(items) {
    if (this.broken || this.unverifiable) return;
    const verdict = await verifyChain(items, this.head, this.length);
    if (verdict.ok === null) {
      this.unverifiable = verdict.reason;
    } else if (verdict.ok) {
      this.verified += verdict.count;
      this.head = verdict.head;
    } else {
      this.verified += verdict.count;
      this.broken = { index: verdict.index, reason: verdict.reason };
    }
  }
}

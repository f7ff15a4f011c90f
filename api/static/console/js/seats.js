// What an event's JSON says about its seats, whichever API version answered. v2 fields
// (registeredSeats, offeredSeats, waitlistSeats) are used when present; a v1 answer falls
// back to its counts (one seat per registration, nothing offered).

export const has = (object, name) => Object.prototype.hasOwnProperty.call(object ?? {}, name);
const number = (value, fallback) => (Number.isFinite(value) ? value : fallback);

/** @returns {{capacity: number, taken: number, offered: number, free: number,
 *   waitingParties: number, waitingSeats: number|null, seatedParties: number,
 *   parties: boolean, offers: boolean}} */
export function seatFigures(event) {
  const capacity = number(event.capacity, 0);
  const seatedParties = number(event.registeredCount, 0);
  const taken = number(event.registeredSeats, seatedParties);
  const offered = number(event.offeredSeats, 0);
  const free = number(event.availableSpots, Math.max(0, capacity - taken - offered));
  const waitingParties = number(event.waitlistCount, 0);
  const waitingSeats = has(event, "waitlistSeats") ? number(event.waitlistSeats, null) : null;
  return {
    capacity,
    taken,
    offered,
    free,
    seatedParties,
    waitingParties,
    waitingSeats,
    // Seats are worth a column only where a party can take more than one.
    parties:
      number(event.maxPartySize, 1) > 1 ||
      taken !== seatedParties ||
      (waitingSeats !== null && waitingSeats !== waitingParties),
    // Offers are shown where the event makes them (or still holds some).
    offers: event.promotion === "offer" || offered > 0,
  };
}

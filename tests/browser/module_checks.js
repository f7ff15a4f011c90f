// Checks of the console's own modules (the event-stream reader, the settling figures, the v2
// fallbacks), run inside the console page by test_console.py through execute_async_script:
// the last argument is the callback that receives the results as JSON.
const done = arguments[arguments.length - 1];
(async () => {
  const sse = await import(new URL("console/js/sse.js", document.baseURI).href);
  const stats = await import(new URL("console/js/stats.js", document.baseURI).href);
  const out = {};

  // The parser, fed in chunks that split lines, CRLFs and a JSON body anywhere.
  const events = [],
    comments = [],
    retries = [];
  const parser = new sse.EventStreamParser({
    onEvent: (e) => events.push(e),
    onComment: (c) => comments.push(c),
    onRetry: (r) => retries.push(r),
  });
  for (const chunk of [
    "\ufeffretry: 500\n\n",
    ": keep-alive\r\n\r\n",
    'id: 1\nevent: ticket.completed\ndata: {"a"',
    ":1}\n\n",
    "id: 2\r",
    "\nevent: registration.promoted\r\ndata: line1\r\ndata:line2\r\n\r\n",
    "data: no id of its own\n\n",
    "retry: soon\nunknown: field\n\n",
    "id: 3\ndata: unfinished",
  ]) {
    parser.push(chunk);
  }
  parser.end();
  out.parsed = { events, comments, retries };

  // Reconnection: a stream that ends, a network error, then a stream that stays open; every
  // connection after the first sends Last-Event-ID. Then a 401 stops it for good.
  const body = (text, close) =>
    new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode(text));
        if (close) c.close();
      },
    });
  const sent = [];
  const answers = [
    () => new Response(body("retry: 10\nid: 7\nevent: ticket.completed\ndata: {}\n\n", true)),
    () => {
      throw new TypeError("network down");
    },
    () => new Response(body("data: after the gap\n\n", false)),
  ];
  const received = [];
  const states = [];
  const stream = new sse.ReconnectingEventStream("/x", {
    headers: { Authorization: "Bearer k" },
    retryMs: 10,
    fetchImpl: async (url, init) => {
      sent.push(init.headers);
      return answers[sent.length - 1]();
    },
    onEvent: (e) => received.push([e.id, e.type, e.data]),
    onState: (s) => states.push(s),
  }).start();
  const deadline = Date.now() + 3000;
  while (received.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  stream.close();
  out.reconnect = { sent, received };

  const refused = [];
  const denied = new sse.ReconnectingEventStream("/x", {
    retryMs: 10,
    fetchImpl: async () => {
      refused.push(1);
      return new Response('{"detail":"no"}', { status: 401 });
    },
    onEvent: () => {},
    onState: (s, problem) => states.push([s, problem?.status ?? null]),
  }).start();
  await new Promise((r) => setTimeout(r, 100));
  out.refused = { calls: refused.length, closed: denied.closed, last: states[states.length - 1] };

  // Latency is known only from messages that carry both times.
  out.latency = [
    stats.latencyOf({
      createdAt: "2026-12-01T10:00:00.000Z",
      completedAt: "2026-12-01T10:00:00.250Z",
    }),
    stats.latencyOf({ ticketId: "t" }),
  ];
  // v2 fields are used when the API sends them; a v1 event falls back to its counts.
  const seats = await import(new URL("console/js/seats.js", document.baseURI).href);
  const settings = await import(new URL("console/js/settings.js", document.baseURI).href);
  const v1 = { capacity: 10, registeredCount: 4, waitlistCount: 0, availableSpots: 6 };
  const v2 = {
    ...v1,
    registeredCount: 3,
    registeredSeats: 7,
    offeredSeats: 2,
    availableSpots: 1,
    waitlistCount: 2,
    waitlistSeats: 5,
    maxPartySize: 4,
    waitlistPolicy: "fill",
    promotion: "offer",
    registrationOpensAt: null,
  };
  out.figures = [seats.seatFigures(v1), seats.seatFigures(v2)];
  out.settings = [settings.settingsOf(v1), settings.settingsOf(v2)].map((list) =>
    list.map((s) => s.name),
  );

  const settle = new stats.SettleStats();
  const now = Date.now();
  for (let i = 0; i < 20; i++) settle.record({}, now - 500);
  out.recent = settle.recent(now);
  return out;
})().then(
  (out) => done(JSON.stringify(out)),
  (error) => done(JSON.stringify({ error: String(error) })),
);

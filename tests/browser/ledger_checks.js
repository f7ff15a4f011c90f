// Checks of the console's ledger module (js/ledger.js), run inside the console page by
// test_console.py through execute_async_script: arguments[0] is a JSON text from the test
// ({values, chain, broken}), the last argument the callback that receives the results as JSON.
const done = arguments[arguments.length - 1];
const input = JSON.parse(arguments[0]);
(async () => {
  const ledger = await import(new URL("console/js/ledger.js", document.baseURI).href);
  const out = {};

  out.canonical = input.values.map((value) => ledger.canonical(value));
  // What cannot be reproduced is refused, not written differently.
  out.refused = [1.5, 2 ** 53, undefined, () => 1].map((value) => {
    try {
      return ["written", ledger.canonical(value)];
    } catch (error) {
      return ["refused", error instanceof TypeError];
    }
  });
  out.loneSurrogate = ledger.canonical("a\ud800b");

  out.hashes = await Promise.all(input.chain.map((entry) => ledger.entryHash(entry)));
  out.whole = await ledger.verifyChain(input.chain);
  // The same chain in two pages: the second goes on from the first's head.
  const first = await ledger.verifyChain(input.chain.slice(0, 2));
  out.pages = [first, await ledger.verifyChain(input.chain.slice(2), first.head, first.lastIndex)];
  out.broken = {};
  for (const [name, entries] of Object.entries(input.broken)) {
    out.broken[name] = await ledger.verifyChain(entries);
  }
  out.summaries = input.chain.map((entry) => ledger.summarize(entry));

  // A follower over a fake API of pages of 2: every entry fetched once, then only what is new.
  const asked = [];
  const served = input.chain.slice(0, 3);
  const follower = new ledger.LedgerFollower(
    async (after, limit) => {
      asked.push(after);
      const items = served.filter((entry) => entry.index > after).slice(0, limit);
      const more = served.some((entry) => entry.index > after + limit);
      return { items, nextAfter: more ? items[items.length - 1].index : null };
    },
    { pageLimit: 2, keep: 3 },
  );
  await follower.follow();
  served.push(...input.chain.slice(3));
  await follower.follow();
  await follower.follow();
  out.follower = {
    asked,
    length: follower.length,
    verified: follower.verified,
    head: follower.head,
    broken: follower.broken,
    recent: follower.recent.map((entry) => entry.index),
  };

  // Where crypto.subtle is missing (plain http on another host), it says so instead of failing.
  const real = Object.getOwnPropertyDescriptor(window, "isSecureContext");
  Object.defineProperty(window, "isSecureContext", { value: false, configurable: true });
  try {
    out.insecure = [ledger.canVerify(), await ledger.verifyChain(input.chain)];
  } finally {
    if (real) Object.defineProperty(window, "isSecureContext", real);
    else delete window.isSecureContext;
  }
  out.secureAgain = ledger.canVerify();
  return out;
})().then(
  (out) => done(JSON.stringify(out)),
  (error) => done(JSON.stringify({ error: `${error}\n${error?.stack}` })),
);

// The generated TypeScript client's headers against the probe server (PROBE_URL): the
// client's (a record, or a function called before every try), each call's own, which wins,
// and a function that fails. The `heard-headers/*` actions tell the headers each try brought.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createClient, type ExecuteResult, type Heard, type StreamResult } from "../probe/client.js";

const baseUrl = process.env.PROBE_URL ?? "";
const quick = { attempts: 4, backoff: 10, maxBackoff: 50 };

function listen(more: { key?: string; refuse?: number; chunks?: number } = {}) {
  const key = `ts-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  return { key, names: ["authorization", "x-who", "x-app", "last-event-id"], ...more };
}

/** A headers function whose every call makes the next token, as a refresh would. */
function tokens() {
  let made = 0;
  const next = (): Record<string, string> => ({ authorization: `Bearer token-${++made}` });
  const refresh = async (): Promise<Record<string, string>> => {
    await new Promise((resolve) => setTimeout(resolve, 1)); // as a token server would
    return next();
  };
  return { next, refresh, made: () => made };
}

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of stream) items.push(item);
  return items;
}

function heard(result: ExecuteResult<Heard>): Heard {
  assert.ok(result.success, JSON.stringify(result));
  return result.data;
}

function networkError(result: ExecuteResult<unknown> | StreamResult): string {
  assert.ok(!result.success);
  assert.equal(result.fail.code, "NETWORK_ERROR");
  assert.equal(result.fail.fromClient, true);
  return String(result.fail.data);
}

describe("the client's headers and the call's", () => {
  test("the client's reach every call, and a call's own win whatever their case", async () => {
    const client = createClient({ baseUrl, headers: { "X-Who": "client", "x-app": "shop" } });
    const plain = heard(await client.heardHeaders.plain.execute({ params: listen() }));
    const called = heard(await client.execute("heard-headers/plain", { params: listen(), headers: { "x-who": "call" } }));
    const [chunk] = await collect(client.heardHeaders.untilCut.executeStream({ params: listen(), headers: { "X-WHO": "stream" } }).stream);
    assert.deepEqual(plain.headers["x-who"], ["client"]);
    assert.deepEqual(called.headers["x-who"], ["call"]);
    assert.deepEqual(chunk?.headers["x-who"], ["stream"]);
    assert.deepEqual(called.headers["x-app"], ["shop"]);
    assert.deepEqual(chunk?.headers["x-app"], ["shop"]);
  });
});

describe("a headers function, called before every try", () => {
  test("an async function is called before every request; a call's own header wins", async () => {
    const made = tokens();
    const client = createClient({ baseUrl, headers: made.refresh });
    const first = heard(await client.heardHeaders.plain.execute({ params: listen() }));
    const second = heard(await client.heardHeaders.plain.execute({ params: listen() }));
    const [chunk] = await collect(client.heardHeaders.untilCut.executeStream({ params: listen() }).stream);
    const mine = heard(await client.heardHeaders.plain.execute({ params: listen(), headers: { Authorization: "Bearer mine" } }));
    assert.deepEqual(first.headers["authorization"], ["Bearer token-1"]);
    assert.deepEqual(second.headers["authorization"], ["Bearer token-2"]);
    assert.deepEqual(chunk?.headers["authorization"], ["Bearer token-3"]);
    assert.deepEqual(mine.headers["authorization"], ["Bearer mine"]);
  });

  test("a plain function is called before every request too", async () => {
    const made = tokens();
    const client = createClient({ baseUrl, headers: made.next });
    const first = heard(await client.heardHeaders.plain.execute({ params: listen() }));
    const second = heard(await client.heardHeaders.plain.execute({ params: listen() }));
    assert.deepEqual([first.headers["authorization"], second.headers["authorization"]], [["Bearer token-1"], ["Bearer token-2"]]);
  });

  test("a stream resumed after its deadline sends a new token", async () => {
    const made = tokens();
    const client = createClient({ baseUrl, headers: made.refresh, retry: quick });
    const call = client.heardHeaders.briefly.executeStream({ params: listen({ chunks: 3 }) });
    const chunks = await collect(call.stream);
    assert.deepEqual(
      chunks.map((chunk) => chunk.headers["authorization"]),
      [["Bearer token-1"], ["Bearer token-2"], ["Bearer token-3"]],
    );
    assert.deepEqual(
      chunks.map((chunk) => chunk.headers["last-event-id"]),
      [[], ["0"], ["1"]],
    );
    assert.equal(call.getResult().success, true);
  });

  test("a retried call sends a new token", async () => {
    const made = tokens();
    const client = createClient({ baseUrl, headers: made.refresh, retry: quick });
    const plain = heard(await client.heardHeaders.plain.execute({ params: listen({ refuse: 1 }) }));
    const [chunk] = await collect(client.heardHeaders.untilCut.executeStream({ params: listen({ refuse: 1 }) }).stream);
    assert.deepEqual([plain.attempt, plain.headers["authorization"]], [1, ["Bearer token-2"]]);
    assert.deepEqual([chunk?.attempt, chunk?.headers["authorization"]], [1, ["Bearer token-4"]]);
  });
});

describe("a headers function that fails", () => {
  test("one that throws or rejects ends the call with a NETWORK_ERROR, and sends nothing", async () => {
    const throws = createClient({
      baseUrl,
      headers: () => {
        throw new Error("token server down");
      },
    });
    const rejects = createClient({ baseUrl, headers: () => Promise.reject(new TypeError("no session")) });
    const plainKey = listen();
    const streamKey = listen();
    const plain = await throws.heardHeaders.plain.execute({ params: plainKey });
    const call = rejects.heardHeaders.untilCut.executeStream({ params: streamKey });
    assert.deepEqual(await collect(call.stream), []);
    assert.equal(networkError(plain), "the headers function failed: Error: token server down");
    assert.equal(networkError(call.getResult()), "the headers function failed: TypeError: no session");
    // The server never heard of either key: its next try of each is its first.
    const working = createClient({ baseUrl });
    assert.equal(heard(await working.heardHeaders.plain.execute({ params: plainKey })).attempt, 0);
    assert.equal(heard(await working.heardHeaders.plain.execute({ params: streamKey })).attempt, 0);
  });

  test("with retries, a function that failed is called again", async () => {
    const made = tokens();
    const flaky = () => {
      const next = made.next();
      if (made.made() % 2 === 1) throw new Error("token server busy");
      return next;
    };
    const client = createClient({ baseUrl, headers: flaky, retry: quick });
    const plain = heard(await client.heardHeaders.plain.execute({ params: listen() }));
    const [chunk] = await collect(client.heardHeaders.untilCut.executeStream({ params: listen() }).stream);
    assert.deepEqual([plain.attempt, plain.headers["authorization"]], [0, ["Bearer token-2"]]);
    assert.deepEqual([chunk?.attempt, chunk?.headers["authorization"]], [0, ["Bearer token-4"]]);
  });

  test("one that hangs is bounded by the handshake timeout, a plain call's timeout and a stop", async () => {
    const hangs = () => new Promise<Record<string, string>>(() => undefined);
    const client = createClient({ baseUrl, headers: hangs, streamTimeouts: { handshake: 200 } });
    let started = Date.now();
    const call = client.heardHeaders.untilCut.executeStream({ params: listen() });
    assert.deepEqual(await collect(call.stream), []);
    assert.equal(networkError(call.getResult()), "no handshake within 200ms");
    assert.ok(Date.now() - started < 1500);

    started = Date.now();
    const plain = await client.heardHeaders.plain.execute({ params: listen(), timeout: 200 });
    assert.equal(networkError(plain), "Error: timed out");
    assert.ok(Date.now() - started < 1500);

    const patient = createClient({ baseUrl, headers: hangs, streamTimeouts: { handshake: 60_000 } });
    const stopped = patient.heardHeaders.untilCut.executeStream({ params: listen() });
    const next = stopped.stream.next();
    await new Promise((resolve) => setTimeout(resolve, 50));
    started = Date.now();
    await stopped.stream.return(undefined);
    assert.deepEqual(await next, { done: true, value: undefined });
    assert.ok(Date.now() - started < 500);
  });
});

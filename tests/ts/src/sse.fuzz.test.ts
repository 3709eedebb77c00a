// The TypeScript client's event-stream parser, fuzzed with fast-check through the client
// itself: a fetch of the test's own answers each call with the bytes given, cut where
// fast-check says. Any bytes must end the call with a result, the same however they are cut,
// and a long event must cost time in proportion to its size.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { createClient } from "../../../generated/client.js";

/** A fetch that answers an event stream of `pieces`, one read each. */
function answering(pieces: Uint8Array[]): typeof fetch {
  return async () => {
    const queue = [...pieces];
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = queue.shift();
        if (next === undefined) controller.close();
        else controller.enqueue(next);
      },
    });
    return new Response(body, { status: 200, headers: { "content-type": "text/event-stream" } });
  };
}

/** `bytes` cut at `cuts` (taken modulo its length). */
function cut(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = cuts.map((point) => point % (bytes.length + 1)).sort((a, b) => a - b);
  const starts = [0, ...points];
  return [...points, bytes.length].map((end, index) => bytes.subarray(starts[index], end));
}

interface Outcome {
  chunks: string[];
  result: unknown;
}

/** What a stream call makes of an answer: the chunks it gave and its result. */
async function call(pieces: Uint8Array[]): Promise<Outcome> {
  const client = createClient({ baseUrl: "http://127.0.0.1:9", fetch: answering(pieces) });
  const { stream, getResult } = client.executeStream("your-stream-api", { params: { name: "x" } });
  const chunks: string[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  const result = getResult();
  // The execute id is made per call only when the server sent none: it is not compared.
  return { chunks, result: result.success ? "success" : { code: result.fail.code, message: result.fail.message } };
}

const encoder = new TextEncoder();
const HANDSHAKE = `data:@${JSON.stringify({ executeId: "01M8ESZ1Z5CNJP8BH9368JZBVW", success: true, data: "$" })}`;

/** An event stream as a server may write it: a handshake, then chunks, with comments, ids
    and any of the three line endings, and maybe a fail at the end. */
const validStreams = fc
  .record({
    chunks: fc.array(fc.string({ unit: "grapheme", maxLength: 12 }), { maxLength: 8 }),
    ending: fc.constantFrom("\n", "\r\n", "\r"),
    pings: fc.array(fc.boolean(), { minLength: 9, maxLength: 9 }),
    ids: fc.boolean(),
    fail: fc.boolean(),
    bom: fc.boolean(),
  })
  .map(({ chunks, ending, pings, ids, fail, bom }) => {
    const lines = [HANDSHAKE, ""];
    chunks.forEach((chunk, index) => {
      if (pings[index]) lines.push(": ping");
      if (ids) lines.push(`id:${index}`);
      lines.push(`data:${JSON.stringify(chunk)}`, "");
    });
    if (fail) {
      const envelope = { executeId: "01M8", success: false, fail: { code: "BUSINESS_FAIL", message: "no", data: "no" } };
      lines.push(`data:@${JSON.stringify(envelope)}`, "");
    }
    return { text: (bom ? "\ufeff" : "") + lines.map((line) => line + ending).join(""), chunks, fail };
  });

/** Bytes near an event stream: its pieces, broken UTF-8, NULs, stray line breaks. */
const hostileBytes = fc
  .array(
    fc.oneof(
      fc.constantFrom("data:", "data: ", "id:", "event:", "retry:", ": ping", "\n", "\r", "\r\n", "\n\n", "@", "{", '"', "\0", "\ufeff", "é", HANDSHAKE),
      fc.string({ maxLength: 6 }),
    ),
    { maxLength: 40 },
  )
  .chain((parts) => fc.tuple(fc.constant(encoder.encode(parts.join(""))), fc.uint8Array({ maxLength: 8 })))
  .map(([text, noise]) => {
    const bytes = new Uint8Array(text.length + noise.length);
    bytes.set(text);
    bytes.set(noise, text.length);
    return bytes;
  });

const cuts = fc.array(fc.nat(), { maxLength: 12 });
/** Runs of each property; FC_NUM_RUNS=100000 runs them longer by hand. */
const numRuns = Number(process.env["FC_NUM_RUNS"] ?? 300);

describe("the TypeScript client's event-stream parser", () => {
  test("a valid stream cut anywhere gives its chunks, then its result", async () => {
    await fc.assert(
      fc.asyncProperty(validStreams, cuts, async (stream, where) => {
        const outcome = await call(cut(encoder.encode(stream.text), where));
        assert.deepEqual(outcome.chunks, stream.chunks);
        assert.deepEqual(outcome.result, stream.fail ? { code: "BUSINESS_FAIL", message: "no" } : "success");
      }),
      { numRuns },
    );
  });

  test("any bytes end the call with a result, the same however they are cut", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(hostileBytes, fc.uint8Array({ maxLength: 200 })), cuts, async (bytes, where) => {
        const whole = await call([bytes]);
        assert.deepEqual(await call(cut(bytes, where)), whole);
        const oneByOne = Array.from(bytes, (byte) => Uint8Array.of(byte));
        assert.deepEqual(await call(oneByOne), whole);
      }),
      { numRuns },
    );
  });

  test("a long event in small pieces takes time in proportion to its size", { timeout: 30_000 }, async () => {
    // A parser that scans all it holds for each piece would take minutes here.
    const long = "x".repeat(2 ** 21);
    const bytes = encoder.encode(`${HANDSHAKE}\n\ndata:${JSON.stringify(long)}\n\n`);
    const pieces = cut(bytes, Array.from({ length: bytes.length / 32 }, (_, index) => index * 32));
    const started = performance.now();
    const outcome = await call(pieces);
    const elapsed = performance.now() - started;
    assert.deepEqual(outcome, { chunks: [long], result: "success" });
    assert.ok(elapsed < 15_000, `${elapsed} ms`);
  });
});

// The generated TypeScript client against real Python servers (their URLs come from the
// environment: BASE_URL serves the example app, PROBE_URL the tests' probe app).
import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { after, describe, test } from "node:test";
import { createParser } from "eventsource-parser";
import { createClient, type Token, type Usage } from "../../../generated/client.js";
import { createClient as createProbeClient } from "../probe/client.js";

const baseUrl = process.env.BASE_URL ?? "";
const probeUrl = process.env.PROBE_URL ?? "";
/** The probe app with a rate limit of two calls a second for each client. */
const rateLimitedUrl = process.env.RATE_LIMITED_URL ?? "";
/** Fault proxies in front of the probe server, each with one fault set. */
const faulty = {
  cut: process.env.CUT_URL ?? "",
  reset: process.env.RESET_URL ?? "",
  stall: process.env.STALL_URL ?? "",
  throttle: process.env.THROTTLE_URL ?? "",
  unanswered: process.env.UNANSWERED_URL ?? "",
};
const client = createClient({ baseUrl });
const probe = createProbeClient({ baseUrl: probeUrl });

function newKey(): string {
  return `ts-${Date.now()}-${Math.random().toString(36).slice(2)}`;
}

/** Milliseconds from `stoppedAt` to the action's `finally`, read from the server. */
async function endedAfter(key: string, stoppedAt: number): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const report = await probe.lifecycle.endedReport.execute({ params: { key } });
    assert.ok(report.success);
    if (report.data.ended && report.data.at_ms !== null) return report.data.at_ms - stoppedAt;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error("the action never ended");
}

describe("streams of the example app", () => {
  test("your-stream-api greets, then tells the time", async () => {
    const { stream, getResult } = client.executeStream("your-stream-api", { params: { name: "furina" } });
    const chunks: string[] = [];
    for await (const chunk of stream) {
      chunks.push(chunk);
      if (chunks.length === 2) break;
    }
    assert.equal(chunks[0], "Hello, furina! The current time is:");
    assert.ok(!Number.isNaN(Date.parse(chunks[1] ?? "")));
    assert.equal(getResult().success, true);
  });

  test("llm/complete streams typed tokens, then its usage", async () => {
    const { stream, getResult } = client.llm.complete.executeStream({ params: { prompt: "a b", max_tokens: 3, delay: 0 } });
    const pieces: (Token | Usage)[] = [];
    for await (const piece of stream) pieces.push(piece);
    assert.deepEqual(pieces.map((piece) => piece.type), ["token", "token", "token", "usage"]);
    assert.deepEqual(pieces.at(-1), { type: "usage", prompt_tokens: 2, completion_tokens: 3 });
    const result = getResult();
    assert.ok(result.success);
    assert.equal(result.executeId.length, 26);
  });

  test("chat/subscribe receives what chat/send sends, with Dates", async () => {
    const room = newKey();
    // recent: 1, so that a subscription that opens after the send still gets the message.
    const { stream } = client.chat.subscribe.executeStream({ params: { room, recent: 1 } });
    const first = stream.next();
    const sent = await client.chat.send.execute({ params: { room, author: "ts", text: "hello" } });
    assert.ok(sent.success);
    const { value } = await first;
    await stream.return(undefined);
    assert.ok(value !== undefined);
    assert.equal(value.text, "hello");
    assert.ok(value.sent_at instanceof Date);
  });
});

describe("plain calls and fails", () => {
  test("a success carries typed data, Dates included", async () => {
    const result = await client.hello.say.execute({ params: { name: "ts" } });
    assert.ok(result.success);
    assert.equal(result.data.message, "Hello, ts!");
    assert.ok(result.data.at instanceof Date);
  });

  test("an app fail code carries its typed data", async () => {
    const result = await client.execute("orders/place", { params: { item: "cake", quantity: 1 } });
    assert.ok(!result.success);
    assert.equal(result.fail.code, "OUT_OF_STOCK");
    if (result.fail.code === "OUT_OF_STOCK") assert.deepEqual(result.fail.data, { item: "cake", available: 0 });
  });

  test("invalid params fail with TYPE_SAFE_ERROR", async () => {
    const result = await client.hello.say.execute({ params: { name: "" } });
    assert.ok(!result.success);
    assert.equal(result.fail.code, "TYPE_SAFE_ERROR");
  });

  test("an error mid-stream becomes the stream's result", async () => {
    const { stream, getResult } = probe.failures.raiseInStream.executeStream();
    const chunks: number[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.deepEqual(chunks, [1, 2]);
    const result = getResult();
    assert.ok(!result.success);
    assert.equal(result.fail.code, "INTERNAL_SERVER_ERROR");
    assert.equal(result.fail.fromClient, undefined);
  });

  test("a server that is not there gives NETWORK_ERROR from the client", async () => {
    const nowhere = createClient({ baseUrl: "http://127.0.0.1:9" });
    const plain = await nowhere.hello.say.execute({ params: { name: "a" } });
    const { stream, getResult } = nowhere.executeStream("your-stream-api", { params: { name: "a" } });
    for await (const chunk of stream) assert.fail(`unexpected chunk ${chunk}`);
    for (const result of [plain, getResult()]) {
      assert.ok(!result.success);
      assert.equal(result.fail.code, "NETWORK_ERROR");
      assert.equal(result.fail.fromClient, true);
    }
  });
});

describe("stopping", () => {
  for (const path of ["lifecycle/forever", "lifecycle/spin"] as const) {
    test(`stream.return() on ${path} ends the action within 100 ms`, async () => {
      const key = newKey();
      const { stream } = probe.executeStream(path, { params: { key } });
      await stream.next();
      const stoppedAt = Date.now();
      await stream.return(undefined);
      assert.ok((await endedAfter(key, stoppedAt)) < 100);
    });

    test(`break on ${path} ends the action within 100 ms`, async () => {
      const key = newKey();
      let stoppedAt = 0;
      for await (const _ of probe.executeStream(path, { params: { key } }).stream) {
        stoppedAt = Date.now();
        break;
      }
      assert.ok((await endedAfter(key, stoppedAt)) < 100);
    });
  }

  test("return() while a next() waits stops the stream at once", async () => {
    const key = newKey();
    const { stream, getResult } = probe.lifecycle.forever.executeStream({ params: { key } });
    await stream.next();
    const waiting = stream.next(); // the action sends nothing more
    const stoppedAt = Date.now();
    await stream.return(undefined);
    assert.ok((await endedAfter(key, stoppedAt)) < 100);
    assert.deepEqual(await waiting, { value: undefined, done: true });
    assert.equal(getResult().success, true, "a stop is not a failure");
  });

  test("an aborted signal stops a stream from outside its loop", async () => {
    const key = newKey();
    const controller = new AbortController();
    const { stream } = probe.lifecycle.forever.executeStream({ params: { key }, signal: controller.signal });
    await stream.next();
    const stoppedAt = Date.now();
    controller.abort();
    assert.ok((await endedAfter(key, stoppedAt)) < 100);
  });
});

describe("TSON both ways", () => {
  test("bigints and Dates go out and come back exactly", async () => {
    const when = new Date("2026-11-24T10:00:00.123Z");
    const params = { exact: 2n ** 70n + 1n, small: 5n, when, maybe_when: null };
    const { stream } = probe.values.big.executeStream({ params });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.equal(chunks.length, 2);
    for (const chunk of chunks) {
      assert.equal(chunk.exact, 2n ** 70n + 1n);
      assert.equal(chunk.small, 5n);
      assert.ok(chunk.when instanceof Date);
      assert.equal(chunk.when.getTime(), when.getTime());
      assert.equal(chunk.maybe_when, null);
    }
  });

  test("a string that looks like TSON stays a string", async () => {
    const result = await probe.values.texts.execute({ params: { text: "t!Date:2026-01-01T00:00:00Z", raw: "héllo", binary: "aGk=" } });
    assert.ok(result.success);
    assert.equal(result.data.text, "t!Date:2026-01-01T00:00:00Z");
    assert.equal(result.data.raw, "héllo");
    assert.equal(result.data.binary, "aGk=");
  });
});

describe("answers a real server of ours never sends", () => {
  const servers: Server[] = [];
  after(() => servers.forEach((server) => server.close()));
  const handshake = 'data:@{"executeId":"01J0000000000000000000000A","success":true,"data":"$"}';

  /** A client of a raw TCP server that answers every request with `body` as an event stream. */
  async function answering(body: string) {
    const server = createServer((socket) => {
      socket.once("data", () => {
        socket.end("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n" + body);
      });
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    assert.ok(address !== null && typeof address === "object");
    return createClient({ baseUrl: `http://127.0.0.1:${address.port}` });
  }

  async function collect(body: string) {
    const { stream, getResult } = (await answering(body)).executeStream("your-stream-api", { params: { name: "a" } });
    const chunks: string[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    return { chunks, result: getResult() };
  }

  test("a stream cut mid-event ends with NETWORK_ERROR, after the chunks that came", async () => {
    const { chunks, result } = await collect(`${handshake}\n\ndata:"a"\n\ndata:"b`);
    assert.deepEqual(chunks, ["a"]);
    assert.ok(!result.success);
    assert.equal(result.fail.code, "NETWORK_ERROR");
    assert.equal(result.fail.fromClient, true);
  });

  test("a chunk that is not JSON ends the stream with a fail, not an exception", async () => {
    const { chunks, result } = await collect(`${handshake}\n\ndata:"a"\n\ndata:{oops\n\n`);
    assert.deepEqual(chunks, ["a"]);
    assert.ok(!result.success);
    assert.equal(result.fail.code, "NETWORK_ERROR");
  });

  test("an answer that is not an event stream ends with NETWORK_ERROR naming its type", async () => {
    const server = createServer((socket) => {
      socket.once("data", () => {
        const body = "<html>bad gateway</html>";
        socket.end(`HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
      });
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    assert.ok(address !== null && typeof address === "object");
    const html = createClient({ baseUrl: `http://127.0.0.1:${address.port}` });
    const call = html.executeStream("your-stream-api", { params: { name: "a" } });
    for await (const chunk of call.stream) assert.fail(`no chunk expected, got ${chunk}`);
    const result = call.getResult();
    assert.ok(!result.success);
    assert.equal(result.fail.code, "NETWORK_ERROR");
    assert.equal(result.fail.data, "the server answered text/html");
  });

  test("events ended by CR alone are read, up to the last", async () => {
    const { chunks, result } = await collect(`${handshake}\r\rdata:"a"\r\r: ping\r`);
    assert.deepEqual(chunks, ["a"]);
    assert.equal(result.success, true);
  });
});

describe("plain SSE", () => {
  test("eventsource-parser reads the stream: handshake, chunks, end", async () => {
    const response = await fetch(`${baseUrl}/llm/complete`, {
      method: "POST",
      headers: { accept: "text/event-stream", "content-type": "application/json" },
      body: JSON.stringify({ prompt: "sse", max_tokens: 2, delay: 0 }),
    });
    assert.ok(response.headers.get("content-type")?.startsWith("text/event-stream"));
    const events: string[] = [];
    const parser = createParser({ onEvent: (event) => events.push(event.data) });
    const decoder = new TextDecoder();
    assert.ok(response.body !== null);
    const reader = response.body.getReader();
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      parser.feed(decoder.decode(read.value, { stream: true }));
    }
    assert.equal(events.length, 4);
    assert.ok(events[0]?.startsWith("@"));
    assert.equal(JSON.parse(events[0]!.slice(1)).success, true);
    assert.deepEqual(JSON.parse(events[3]!), { type: "usage", prompt_tokens: 1, completion_tokens: 2 });
  });
});

describe("retries, resume and timeouts", () => {
  const quick = { attempts: 4, backoff: 10, maxBackoff: 50 };

  test("a call past the rate limit waits as long as its Retry-After says, then succeeds", async () => {
    const limited = createProbeClient({ baseUrl: rateLimitedUrl });
    for (let call = 0; call < 2; call++) assert.equal((await limited.execute("custom/place")).success, true);
    const refused = await limited.execute("custom/place");
    assert.equal(refused.success, false);
    if (!refused.success) assert.equal(refused.fail.code, "TOO_MANY_REQUESTS");
    const retrying = createProbeClient({ baseUrl: rateLimitedUrl, retry: { ...quick, jitter: false } });
    const started = Date.now();
    const result = await retrying.execute("custom/place");
    assert.equal(result.success, true);
    assert.ok(Date.now() - started >= 900, "the second of Retry-After, not the 10 ms backoff");
  });

  test("a tracked stream resumes after each cut with nothing lost or repeated", async () => {
    const retrying = createProbeClient({ baseUrl: probeUrl, retry: quick });
    const call = retrying.lifecycle.numberedBriefly.executeStream({ params: { key: newKey() } });
    const numbers: number[] = [];
    for await (const number of call.stream) numbers.push(number);
    assert.deepEqual(numbers, Array.from({ length: 30 }, (_, index) => index));
    assert.equal(call.getResult().success, true);
    assert.equal(call.lastEventId(), "29");
  });

  test("an untracked stream that gave chunks ends with its fail", async () => {
    const retrying = createProbeClient({ baseUrl: probeUrl, retry: quick });
    const call = retrying.lifecycle.deadline.executeStream({ params: { key: newKey() } });
    const chunks: string[] = [];
    for await (const chunk of call.stream) chunks.push(chunk);
    assert.deepEqual(chunks, ["started"]);
    const result = call.getResult();
    assert.ok(!result.success);
    assert.equal(result.fail.code, "STREAM_DEADLINE");
  });

  test("a stream with no chunk for its idle time ends with a NETWORK_ERROR", async () => {
    const patient = createProbeClient({ baseUrl: probeUrl, streamTimeouts: { idle: 300 } });
    const started = Date.now();
    const call = patient.lifecycle.forever.executeStream({ params: { key: newKey() } });
    const chunks: string[] = [];
    for await (const chunk of call.stream) chunks.push(chunk);
    const result = call.getResult();
    assert.deepEqual(chunks, ["ready"]);
    assert.ok(!result.success);
    assert.equal(result.fail.code, "NETWORK_ERROR");
    assert.equal(result.fail.data, "no chunk for 300ms");
    assert.ok(Date.now() - started < 1500);
  });

  test("503s are tried again until the server answers, for streams and plain calls", async () => {
    let connections = 0;
    const unavailable = "HTTP/1.1 503 Service Unavailable\r\nretry-after: 0\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
    const server = createServer((socket) => {
      socket.once("data", (request) => {
        connections += 1;
        const stream = request.toString().includes("text/event-stream");
        if (connections % 2 === 1) socket.end(unavailable);
        else if (stream)
          socket.end(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n" +
              'data:@{"executeId":"01J0000000000000000000000A","success":true,"data":"$"}\n\ndata:"a"\n\n',
          );
        else {
          const body = '{"executeId":"01J0000000000000000000000A","success":true,"data":{"message":"hi","at":"t!Date:2026-01-01T00:00:00Z"}}';
          socket.end(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const address = server.address();
      assert.ok(address !== null && typeof address === "object");
      const retrying = createClient({ baseUrl: `http://127.0.0.1:${address.port}`, retry: quick });
      const call = retrying.executeStream("your-stream-api", { params: { name: "a" } });
      const chunks: string[] = [];
      for await (const chunk of call.stream) chunks.push(chunk);
      assert.deepEqual(chunks, ["a"]);
      assert.equal(connections, 2);
      const greeting = await retrying.hello.say.execute({ params: { name: "a" } });
      assert.ok(greeting.success);
      assert.equal(connections, 4);
    } finally {
      server.close();
    }
  });
});

describe("faults of the network, made by a TCP proxy", () => {
  for (const fault of ["cut", "reset"] as const) {
    test(`a connection ${fault === "cut" ? "closed" : "reset"} mid-stream ends with NETWORK_ERROR and stops the action`, async () => {
      const key = newKey();
      const call = createProbeClient({ baseUrl: faulty[fault] }).lifecycle.spin.executeStream({ params: { key } });
      const chunks: number[] = [];
      for await (const chunk of call.stream) chunks.push(chunk);
      const result = call.getResult();
      assert.ok(!result.success);
      assert.equal(result.fail.code, "NETWORK_ERROR");
      assert.equal(result.fail.fromClient, true);
      assert.deepEqual(chunks, Array.from({ length: chunks.length }, (_, index) => index + 1), "what came, came whole and in order");
      assert.ok((await endedAfter(key, Date.now())) < 5000, "the server's action ended");
    });
  }

  test("a stall past the handshake timeout ends the call and stops the action", async () => {
    const key = newKey();
    const started = Date.now();
    const stalled = createProbeClient({ baseUrl: faulty.stall, streamTimeouts: { handshake: 500 } });
    const call = stalled.lifecycle.forever.executeStream({ params: { key } });
    for await (const chunk of call.stream) assert.fail(`no chunk expected, got ${chunk}`);
    const result = call.getResult();
    assert.ok(!result.success);
    assert.equal(result.fail.code, "NETWORK_ERROR");
    assert.equal(result.fail.data, "no handshake within 500ms");
    assert.ok(Date.now() - started < 2000);
    assert.ok((await endedAfter(key, Date.now())) < 5000, "the server's action ended");
  });

  test("a connect that hangs ends with the handshake timeout, or the call's timeout", async () => {
    const hanging = createProbeClient({ baseUrl: faulty.unanswered, streamTimeouts: { handshake: 300 } });
    let started = Date.now();
    const call = hanging.lifecycle.forever.executeStream({ params: { key: "never" } });
    for await (const chunk of call.stream) assert.fail(`no chunk expected, got ${chunk}`);
    const streamed = call.getResult();
    assert.ok(!streamed.success);
    assert.equal(streamed.fail.data, "no handshake within 300ms");
    assert.ok(Date.now() - started < 1500);
    started = Date.now();
    const answered = await hanging.values.nothing.execute({ timeout: 300 });
    assert.ok(!answered.success);
    assert.equal(answered.fail.code, "NETWORK_ERROR");
    assert.ok(Date.now() - started < 1500);
  });

  test("a throttled connection delivers everything in order, never idle", async () => {
    const started = Date.now();
    const slow = createProbeClient({ baseUrl: faulty.throttle, streamTimeouts: { idle: 500 } });
    const call = slow.lifecycle.count.executeStream({ params: { n: 3000 } });
    const chunks: number[] = [];
    for await (const chunk of call.stream) chunks.push(chunk);
    assert.equal(call.getResult().success, true);
    assert.deepEqual(chunks, Array.from({ length: 3000 }, (_, index) => index));
    assert.ok(Date.now() - started > 1000, "the proxy did throttle");
  });
});

// Static checks of the generated client, run by `tsc --strict`: the revealed types of chunks,
// params and results, and `@ts-expect-error` where a user's mistake must be refused.
import { createClient, type Fail, type Message, type Token, type Usage } from "../../../generated/client.js";

type Equal<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(): T | undefined {
  return undefined;
}

export async function typing(): Promise<void> {
  const client = createClient({ baseUrl: "http://127.0.0.1:9000" });

  const clock = client.executeStream("your-stream-api", { params: { name: "furina" } });
  for await (const chunk of clock.stream) expectType<Equal<typeof chunk, string>>();

  const llm = client.llm.complete.executeStream({ params: { prompt: "hi" } });
  for await (const piece of llm.stream) {
    expectType<Equal<typeof piece, Token | Usage>>();
    if (piece.type === "usage") expectType<Equal<typeof piece.completion_tokens, number>>();
  }

  const greeting = await client.execute("hello/say", { params: { name: "a" } });
  if (greeting.success) expectType<Equal<typeof greeting.data.at, Date>>();
  else expectType<Equal<typeof greeting.fail.code, Fail["code"]>>();

  const result = llm.getResult();
  if (!result.success && result.fail.code === "TYPE_SAFE_ERROR") expectType<Equal<typeof result.fail.data.path, string>>();

  for await (const message of client.chat.subscribe.executeStream({ params: { room: "1" } }).stream) {
    expectType<Equal<typeof message, Message>>();
    // @ts-expect-error a chunk field that does not exist
    void message.nope;
  }

  // @ts-expect-error a path that does not exist
  void client.execute("no/such", { params: {} });
  // @ts-expect-error a params key that does not exist
  void client.execute("hello/say", { params: { nmae: "a" } });
  // @ts-expect-error a params value of the wrong type
  void client.hello.say.execute({ params: { name: 1 } });
  // @ts-expect-error a stream API is not called plainly
  void client.execute("your-stream-api", { params: { name: "a" } });
  // @ts-expect-error params are required where the API takes some
  void client.orders.place.execute();
}

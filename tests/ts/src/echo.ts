// Reads jobs from stdin ([{ name, key, value }]), where `value` tags Dates and bigints as
// replay.ts prints them, and sends each as the params of `echo/<name>` of the corpus app with
// the generated client. Prints whether each call succeeded.
import { createClient } from "../corpus/client.js";

interface Job {
  name: string;
  key: string;
  value: unknown;
}

function untag(_key: string, value: unknown): unknown {
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const tagged = value as Record<string, unknown>;
    const keys = Object.keys(tagged);
    if (keys.length === 1 && typeof tagged["$date"] === "number") return new Date(tagged["$date"]);
    if (keys.length === 1 && typeof tagged["$bigint"] === "string") return BigInt(tagged["$bigint"]);
  }
  return value;
}

async function main(): Promise<void> {
  const [baseUrl] = process.argv.slice(2);
  const client = createClient({ baseUrl: baseUrl ?? "" });
  let input = "";
  for await (const piece of process.stdin) input += String(piece);
  const outputs = [];
  for (const job of JSON.parse(input, untag) as Job[]) {
    // The path is only known at run time here; the types are checked in typing.ts.
    const result = await client.execute(`echo/${job.name}` as never, { params: { key: job.key, value: job.value } } as never);
    outputs.push(result.success ? { success: true } : { success: false, fail: result.fail });
  }
  process.stdout.write(JSON.stringify(outputs));
}

await main();

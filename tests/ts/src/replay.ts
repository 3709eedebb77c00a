// Reads jobs from stdin ([{ name, key }]), streams `replay/<name>` of the corpus app for each
// with the generated client, and prints what arrived, tagging Dates and bigints:
// { "$date": epoch milliseconds }, { "$bigint": "digits" }.
import { createClient } from "../corpus/client.js";

interface Job {
  name: string;
  key: string;
}

function tag(this: unknown, key: string, value: unknown): unknown {
  const raw = (this as Record<string, unknown>)[key];
  if (raw instanceof Date) return { $date: raw.getTime() };
  if (typeof raw === "bigint") return { $bigint: raw.toString() };
  return value;
}

async function main(): Promise<void> {
  const [baseUrl] = process.argv.slice(2);
  const client = createClient({ baseUrl: baseUrl ?? "" });
  let input = "";
  for await (const piece of process.stdin) input += String(piece);
  const outputs = [];
  for (const job of JSON.parse(input) as Job[]) {
    // The path is only known at run time here; the types are checked in typing.ts.
    const call = client.executeStream(`replay/${job.name}` as never, { params: { key: job.key } } as never);
    const chunks: unknown[] = [];
    for await (const chunk of call.stream as AsyncGenerator<unknown>) chunks.push(chunk);
    outputs.push({ success: call.getResult().success, chunks });
  }
  process.stdout.write(JSON.stringify(outputs, tag));
}

await main();

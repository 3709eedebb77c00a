// Streams `lifecycle/numbered` of the probe app with retries, printing each number on its own
// line as it arrives, until 120 came; then prints the result. The test kills and restarts the
// server while it reads.
import { createClient } from "../probe/client.js";

async function main(): Promise<void> {
  const [baseUrl] = process.argv.slice(2);
  const client = createClient({ baseUrl: baseUrl ?? "", retry: { attempts: 40, backoff: 50, maxBackoff: 200 } });
  const call = client.lifecycle.numbered.executeStream({ params: { key: "ts" } });
  let count = 0;
  for await (const number of call.stream) {
    console.log(number);
    if (++count === 120) break;
  }
  console.log(JSON.stringify(call.getResult()));
}

void main();

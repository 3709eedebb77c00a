// Many answers at once in one page: `?n=10` streams of `llm/complete`, each with its progress
// and the moments it started, got its first token and ended. Over HTTP/1.1 a browser opens
// at most six connections to one origin, so streams past the sixth wait for one to end; over
// HTTP/2 they share one connection and all run at once.
import { client, element, query, setState } from "./connect";

const count = Number(query.get("n") ?? "10");
const tokens = Number(query.get("tokens") ?? "20");
const delay = Number(query.get("delay") ?? "0.05");
const list = element<HTMLOListElement>("streams");
const overlap = element<HTMLParagraphElement>("overlap");

interface Run {
  started: number;
  first?: number;
  ended?: number;
}

/** The most streams that were sending at one moment: between first token and end. */
function mostAtOnce(runs: Run[]): number {
  const moments = runs.flatMap((run) => [
    { at: run.first ?? Infinity, step: 1 },
    { at: run.ended ?? Infinity, step: -1 },
  ]);
  moments.sort((a, b) => a.at - b.at || a.step - b.step);
  let now = 0;
  let most = 0;
  for (const moment of moments) {
    now += moment.step;
    most = Math.max(most, now);
  }
  return most;
}

async function run(index: number, item: HTMLLIElement, progress: HTMLProgressElement): Promise<Run> {
  const times: Run = { started: performance.now() };
  item.dataset.started = String(times.started);
  const { stream, getResult } = client.executeStream("llm/complete", {
    params: { prompt: `stream ${index}`, max_tokens: tokens, delay },
  });
  let received = 0;
  for await (const chunk of stream) {
    if (chunk.type !== "token") continue;
    if (times.first === undefined) {
      times.first = performance.now();
      item.dataset.first = String(times.first);
    }
    received += 1;
    progress.value = received;
    item.dataset.tokens = String(received);
    item.querySelector(".count")!.textContent = `${received}/${tokens}`;
  }
  times.ended = performance.now();
  item.dataset.ended = String(times.ended);
  const result = getResult();
  item.dataset.state = result.success ? "done" : `failed: ${result.fail.code}`;
  return times;
}

async function main(): Promise<void> {
  setState("streaming");
  const runs = Array.from({ length: count }, (_, index) => {
    const item = document.createElement("li");
    item.dataset.stream = String(index + 1);
    item.dataset.tokens = "0";
    const progress = document.createElement("progress");
    progress.max = tokens;
    progress.value = 0;
    const shown = document.createElement("span");
    shown.className = "count";
    shown.textContent = `0/${tokens}`;
    item.append(progress, " ", shown);
    list.append(item);
    return run(index + 1, item, progress);
  });
  const times = await Promise.all(runs);
  overlap.textContent = `at most ${mostAtOnce(times)} of ${count} streams ran at once`;
  const failed = list.querySelectorAll("li:not([data-state='done'])").length;
  setState(failed ? `failed: ${failed} stream(s)` : "done");
}

void main();

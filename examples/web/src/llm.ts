// An answer shown token by token as the server makes it; Stop halts the action on the server.
import { client, element, query, setState } from "./connect";

const form = element<HTMLFormElement>("ask");
const prompt = element<HTMLInputElement>("prompt");
const answer = element<HTMLParagraphElement>("answer");
const usage = element<HTMLParagraphElement>("usage");
const stop = element<HTMLButtonElement>("stop");
const delay = Number(query.get("delay") ?? "0.05");
let asking: AbortController | undefined;

async function ask(question: string): Promise<void> {
  asking = new AbortController();
  answer.textContent = "";
  usage.textContent = "";
  stop.disabled = false;
  setState("answering");
  const { stream, getResult } = client.executeStream("llm/complete", {
    params: { prompt: question, max_tokens: 256, delay },
    signal: asking.signal,
  });
  for await (const chunk of stream) {
    if (chunk.type === "token") answer.append(chunk.text);
    else usage.textContent = `${chunk.completion_tokens} tokens for a prompt of ${chunk.prompt_tokens}`;
  }
  stop.disabled = true;
  const result = getResult();
  setState(asking.signal.aborted ? "stopped" : result.success ? "done" : `failed: ${result.fail.code}`);
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  asking?.abort();
  void ask(prompt.value);
});
stop.addEventListener("click", () => asking?.abort());

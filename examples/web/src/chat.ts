// A chat room: every message sent to the room, by any tab on any server instance, appears in
// every tab subscribed to it, through the `chat/subscribe` stream.
import { type Message } from "../../../generated/client";
import { client, element, query, setState } from "./connect";

const room = query.get("room") ?? "lobby";
const author = query.get("name") ?? `guest-${Math.floor(Math.random() * 1000)}`;
const messages = element<HTMLUListElement>("messages");
const form = element<HTMLFormElement>("compose");
const text = element<HTMLInputElement>("text");
element("room").textContent = room;
element("author").textContent = author;

function show(message: Message): void {
  const item = document.createElement("li");
  const who = document.createElement("b");
  who.textContent = message.author;
  item.append(who, `: ${message.text}`);
  item.title = message.sent_at.toLocaleString();
  messages.append(item);
  item.scrollIntoView({ block: "end" });
}

async function subscribe(): Promise<void> {
  setState("subscribed");
  const { stream, getResult } = client.executeStream("chat/subscribe", {
    params: { room, recent: 50 },
  });
  for await (const message of stream) show(message);
  const result = getResult();
  setState(result.success ? "ended" : `failed: ${result.fail.code}`);
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const said = text.value.trim();
  if (!said) return;
  text.value = "";
  void client.execute("chat/send", { params: { room, author, text: said } }).then((result) => {
    if (!result.success) setState(`not sent: ${result.fail.code}`);
  });
});

void subscribe();

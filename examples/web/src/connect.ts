// What the pages share: the client, pointed at the server that serves the page, or at the
// one named by `?api=` (a page of another origin, as the CORS tests load it). A real app
// would not take its API's address from the URL: a crafted link could send what a user
// types to another server.
import { createClient } from "../../../generated/client";

export const query = new URLSearchParams(location.search);

export const client = createClient({
  baseUrl: query.get("api") ?? location.origin,
  // A dropped network (a train, a laptop lid) is waited out: a tracked stream resumes after
  // its last message, so nothing is lost or shown twice.
  retry: { attempts: 30, backoff: 200, maxBackoff: 2000, jitter: true },
});

export function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`the page has no #${id}`);
  return found as T;
}

/** What the page is doing, shown to the reader and read by the tests (`data-state`). */
export function setState(state: string): void {
  document.body.dataset.state = state;
  element("state").textContent = state;
}

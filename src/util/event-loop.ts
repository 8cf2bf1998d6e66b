// Sharing the event loop: long synchronous work over large batches is cut into slices with a yield in
// between, so that a server process keeps answering (acknowledging agents, serving the API) meanwhile.

export const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Calls `work` on consecutive slices of at most `size` items, yielding to the event loop between slices. */
export async function inSlices<T>(items: T[], size: number, work: (slice: T[]) => void | Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) {
    if (i > 0) await yieldToEventLoop();
    await work(items.length <= size ? items : items.slice(i, i + size));
  }
}

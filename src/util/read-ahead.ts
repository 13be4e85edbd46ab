/**
 * Iterates `source` one item ahead: the next item is requested as soon as the
 * current one is handed out, so a slow producer (an HTTP page, a file read)
 * works while the consumer validates the current item. At most one item is
 * held beyond the one being consumed, so memory stays bounded. An error of the
 * item read ahead surfaces when the consumer asks for it, never before.
 */
export function readAhead<T>(source: AsyncIterable<T>): AsyncIterableIterator<T> {
  const iterator = source[Symbol.asyncIterator]();
  let ahead: Promise<IteratorResult<T>> | undefined;
  const request = (): Promise<IteratorResult<T>> => {
    const next = iterator.next();
    // Seen by the consumer on its next call; until then it must not count as unhandled.
    next.catch(() => undefined);
    return next;
  };
  return {
    async next(): Promise<IteratorResult<T>> {
      const current = await (ahead ?? request());
      ahead = current.done ? undefined : request();
      return current;
    },
    async return(): Promise<IteratorResult<T>> {
      // The item read ahead is abandoned; its source is closed once that read settles.
      const pending = ahead;
      ahead = undefined;
      await pending?.catch(() => undefined);
      return (await iterator.return?.()) ?? { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

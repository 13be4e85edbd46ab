import { describe, expect, it } from 'vitest';
import { readAhead } from '../../src/util/read-ahead.js';

/** A source that records when each item is requested and when it is closed. */
function tracked(count: number, failAt?: number) {
  const log: string[] = [];
  async function* items(): AsyncGenerator<number> {
    try {
      for (let i = 1; i <= count; i++) {
        log.push(`read ${i}`);
        await new Promise((r) => setTimeout(r, 1));
        if (i === failAt) throw new Error(`item ${i} failed`);
        yield i;
      }
    } finally {
      log.push('closed');
    }
  }
  return { log, items: items() };
}

describe('readAhead', () => {
  it('hands out every item in order, exactly once', async () => {
    const { items } = tracked(5);
    const seen: number[] = [];
    for await (const item of readAhead(items)) seen.push(item);
    expect(seen).toEqual([1, 2, 3, 4, 5]);
  });

  it('requests the next item while the consumer holds the current one, and no further', async () => {
    const { log, items } = tracked(5);
    const ahead = readAhead(items);
    expect((await ahead.next()).value).toBe(1);
    await new Promise((r) => setTimeout(r, 20)); // the consumer is busy with item 1
    expect(log).toEqual(['read 1', 'read 2']);
  });

  it('surfaces an error of the item read ahead only when that item is asked for', async () => {
    const { items } = tracked(5, 2);
    const ahead = readAhead(items);
    expect((await ahead.next()).value).toBe(1);
    await new Promise((r) => setTimeout(r, 20)); // item 2 has failed meanwhile: nothing is thrown yet
    await expect(ahead.next()).rejects.toThrow('item 2 failed');
  });

  it('closes the source when the consumer stops early', async () => {
    const { log, items } = tracked(5);
    for await (const item of readAhead(items)) if (item === 2) break;
    expect(log.at(-1)).toBe('closed');
    expect(log.filter((l) => l.startsWith('read'))).toEqual(['read 1', 'read 2', 'read 3']);
  });
});

import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { outputPlan, TERMINAL_ROWS } from '../../src/cli/query-output.js';

describe('aetl query: where the rows go, and how many (outputPlan)', () => {
  it('a table on a terminal shows a screenful; anywhere else, or in another format, every row', () => {
    expect(outputPlan({}, false, true)).toEqual({ format: 'table', limit: TERMINAL_ROWS, out: null });
    expect(outputPlan({}, false, false)).toEqual({ format: 'table', limit: Infinity, out: null });
    expect(outputPlan({ format: 'csv' }, false, true)).toEqual({ format: 'csv', limit: Infinity, out: null });
    expect(outputPlan({}, true, true)).toEqual({ format: 'json', limit: Infinity, out: null });
    expect(outputPlan({ limit: 7 }, false, false).limit).toBe(7);
    expect(outputPlan({ format: 'jsonl', limit: 7 }, false, true).limit).toBe(7);
  });

  it('--out takes its format from --format, else from the extension; a file gets every row', () => {
    expect(outputPlan({ out: 'a/b.CSV' }, false, true)).toEqual({
      format: 'csv',
      limit: Infinity,
      out: resolve('a/b.CSV'),
    });
    expect(outputPlan({ out: 'b.ndjson' }, false, true).format).toBe('jsonl');
    expect(outputPlan({ out: 'b.jsonl' }, true, true).format).toBe('jsonl'); // --json is then the summary on stdout
    expect(outputPlan({ out: 'b.json' }, false, true).format).toBe('json');
    expect(outputPlan({ out: 'b.txt', format: 'table' }, false, true)).toMatchObject({
      format: 'table',
      limit: Infinity,
    });
    expect(() => outputPlan({ out: 'b.txt' }, false, true)).toThrow('cannot tell the format of b.txt');
  });

  it('--json on stdout is the one JSON object: another --format with it is refused', () => {
    expect(outputPlan({ format: 'json' }, true, false).format).toBe('json');
    expect(() => outputPlan({ format: 'csv' }, true, false)).toThrow('--json prints one JSON object');
  });
});

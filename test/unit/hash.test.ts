import { describe, expect, it } from 'vitest';
import { stableStringify } from '../../src/contract/hash.js';

describe('stableStringify', () => {
  it('writes a bigint as its decimal text (JSON.stringify would throw), keys sorted at every depth', () => {
    expect(stableStringify({ b: 12345678901234567890n, a: [{ d: null, c: 1 }] })).toBe(
      '{"a":[{"c":1,"d":null}],"b":"12345678901234567890"}',
    );
  });
});

import { describe, expect, it } from 'vitest';
import { maskRecord, maskText, pseudonym } from '../../src/contract/privacy.js';

const rules = { pseudonymKey: 'a-key-of-sixteen-chars', dropMetadataKeys: ['prompt'] };
const p = (user: string) => pseudonym(rules.pseudonymKey, user);

describe('masking rejected records', () => {
  it('broken text: user values pseudonymised, named keys dropped to the end of their value, cut or nested', () => {
    expect(maskText('{"user_id": "alice", "prompt": "my, secret", "x": 1}', rules)).toBe(
      `{"user_id": "${p('alice')}", "prompt": "[dropped]", "x": 1}`,
    );
    expect(
      maskText('{"user": 12345, "metadata": {"prompt": [{"role": "user", "content": "SECRET, more"}], "k": 2}', rules),
    ).toBe(`{"user": "${p('12345')}", "metadata": {"prompt": "[dropped]", "k": 2}`);
    // Cut by the size limit in the middle of the value.
    expect(maskText('{"id": "a", "prompt": "SECRET continues, and on', rules)).toBe(
      '{"id": "a", "prompt": "[dropped]"',
    );
    expect(maskText('{"user_id": "bob-cut', rules)).toBe(`{"user_id": "${p('bob-cut')}"`);
    expect(maskText('{"user_id": null}', rules)).toBe('{"user_id": null}');
  });

  it('parsed records: any scalar user id pseudonymised, named keys gone', () => {
    expect(maskRecord({ user_id: 42, user: 'x', prompt: 'p', metadata: { prompt: 'q', keep: 1 } }, rules)).toEqual({
      user_id: p('42'),
      user: p('x'),
      metadata: { keep: 1 },
    });
  });
});

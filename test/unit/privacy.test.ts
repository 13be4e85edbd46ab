import { describe, expect, it } from 'vitest';
import { maskRecord, maskText, pseudonym, subjectHash } from '../../src/contract/privacy.js';

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

describe('the subject hash of an erasure', () => {
  it('is stable, keyed when a key is configured, and never the pseudonym the erasure removed', () => {
    const keyed = subjectHash(rules.pseudonymKey, 'alice');
    expect(keyed).toMatch(/^s_[0-9a-f]{64}$/);
    expect(subjectHash(rules.pseudonymKey, 'alice')).toBe(keyed);
    expect(subjectHash('another-key-of-16-chars', 'alice')).not.toBe(keyed);
    expect(subjectHash(null, 'alice')).not.toBe(keyed);
    expect(keyed).not.toContain(p('alice').slice(2));
    expect(subjectHash(rules.pseudonymKey, 'bob')).not.toBe(keyed);
  });
});

import { describe, expect, it } from 'vitest';
import { maskRecord, maskText, NO_PRIVACY, pseudonym, subjectHash } from '../../src/contract/privacy.js';
import { validateBatch } from '../../src/staging/validate-batch.js';

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

describe('erased users in what is stored', () => {
  const erasure = {
    pseudonymKey: null,
    dropMetadataKeys: [],
    erasureKey: null,
    erasedSubjects: [subjectHash(null, 'alice')],
  };
  const location = { source: 'inbox/a.jsonl', ref: 'line 1' };
  const line = (text: string) => ({ kind: 'line' as const, text, location });
  const batch = (texts: string[]) =>
    validateBatch(texts.map(line), { window: null, maxRecordBytes: 1024 ** 2, privacy: erasure, decisionAliases: {} });

  it('an erased user is masked, padded or not; everyone else’s reject is stored exactly as read', () => {
    const { rejects } = batch([
      '{"id": "e1", "user_id": " alice ", "decision": "maybe"}',
      '{"id": "e2", "user_id": "bob",   "decision": "maybe"}',
      '{"id": "e3", "user_id": "alice", "a": x}',
    ]);
    const payloads = rejects.map((r) => String(r[3]));
    expect(JSON.parse(payloads[0]!).user_id).toBe('(erased)');
    expect(payloads[1]).toBe('{"id": "e2", "user_id": "bob",   "decision": "maybe"}'); // as read: same payload hash
    expect(payloads[2]).toBe('{"id": "e3", "user_id": "(erased)", "a": x}');
  });

  it('a broken line’s reason never quotes the line (V8 quotes up to 20 characters around the error)', () => {
    const texts = [
      '{"user_id": alice, "a": 1, "b": 2, "c": 3, "d": 4}', // in the middle: ..."…"...
      '{"a": 1, "b": 2, "c": 3, "user": alice, "d": 4, "e": 5}',
      'alice{"user_id": 1, "a": 2, "b": 3}', // at the start: "…"...
      'alice@corp.example', // short: "…"
    ];
    const reasons = batch(texts).rejects.map((r) => String(r[4]));
    expect(reasons).toHaveLength(4);
    for (const reason of reasons) {
      expect(reason).toContain('invalid JSON');
      expect(reason).not.toContain('alice');
    }
  });

  it('the erased marker of a replayed reject loads as the unknown user', () => {
    const replayed = validateBatch(
      [
        line(
          '{"id": "e4", "timestamp": "2026-04-10T08:00:00Z", "decision": "allow", "user_id": "(erased)", "input_tokens": 1, "output_tokens": 1, "cost_usd": 0}',
        ),
      ],
      { window: null, maxRecordBytes: 1024 ** 2, privacy: NO_PRIVACY, decisionAliases: {} },
    );
    expect(replayed.events).toHaveLength(1);
    expect(replayed.events[0]![5]).toBeNull(); // user_id column
  });
});

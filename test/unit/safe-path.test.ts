import { describe, expect, it } from 'vitest';
import { partitionFiles, partitionName } from '../../src/lake/layout.js';
import { pathInside } from '../../src/util/safe-path.js';

describe('paths derived from data stay inside their root', () => {
  it('builds plain names under the root', () => {
    expect(pathInside('/lake', 'fact_ai_event', 'event_date=2026-05-01', 'data.parquet')).toBe(
      '/lake/fact_ai_event/event_date=2026-05-01/data.parquet',
    );
    expect(pathInside('/downloads', 'export-exp_123-abc.jsonl')).toBe('/downloads/export-exp_123-abc.jsonl');
  });

  it('refuses traversal, separators, absolute paths and odd characters, naming the segment', () => {
    for (const bad of ['..', '../etc', 'a/b', '/etc/passwd', 'a\\b', '.hidden', '', 'x..y', 'name\u0000', 'é']) {
      expect(() => pathInside('/lake', 'fact_ai_event', bad), JSON.stringify(bad)).toThrow(/refusing the path segment/);
    }
  });

  it('lake partitions take only a table name and a date', () => {
    expect(() => partitionFiles('/lake', '../dim_user', '2026-05-01')).toThrow(/refusing the path segment/);
    expect(() => partitionName('2026-05-01/../../x')).toThrow(/not a date/);
  });
});

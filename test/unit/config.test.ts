import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';

describe('parseConfig', () => {
  it('applies defaults and resolves relative paths against the config file', () => {
    const config = parseConfig('source:\n  kind: simulator\n', '/etc/aetl/pipeline.yaml', {});
    expect(config.window).toMatchObject({
      lookback: 3_600_000,
      settle_delay: 120_000,
      max_window: 21_600_000,
      max_windows: 48,
    });
    expect(config.warehouse).toMatchObject({ kind: 'duckdb', path: '/etc/aetl/data/warehouse.duckdb' });
    expect(config.checks.max_reject_rate).toBe(0.01);
    expect(config.pipeline.name).toBe('default');
  });

  it('interpolates ${ENV} and ${ENV:-default}', () => {
    const text = 'source:\n  kind: events_api\n  url: ${API:-http://127.0.0.1:1}\n  token: ${TOKEN}\n';
    const config = parseConfig(text, 'c.yaml', { TOKEN: 'abc' });
    expect(config.source.url).toBe('http://127.0.0.1:1');
    expect(config.source.token).toBe('abc');
  });

  it('requires url and token for the Events API, and files for the files source', () => {
    expect(() => parseConfig('source:\n  kind: events_api\n', 'c.yaml', {})).toThrow(
      /source\.url: required[\s\S]*source\.token: required/,
    );
    expect(() => parseConfig('source:\n  kind: files\n', 'c.yaml', {})).toThrow(/source\.files: required/);
  });

  it('takes exactly one Snowflake sign-in, refuses names that are not plain identifiers, resolves the key path', () => {
    const sf = (extra: string) =>
      `source:\n  kind: simulator\nwarehouse:\n  kind: snowflake\n  account: myorg-acct\n  user: loader\n  database: analytics\n${extra}`;
    const config = parseConfig(sf('  private_key_path: keys/rsa.p8\n'), '/etc/aetl/c.yaml', {});
    expect(config.warehouse).toMatchObject({ private_key_path: '/etc/aetl/keys/rsa.p8', schema: 'PUBLIC' });
    expect(() => parseConfig(sf(''), 'c.yaml', {})).toThrow(/warehouse\.password: set exactly one of password/);
    expect(() => parseConfig(sf('  password: a\n  private_key: b\n'), 'c.yaml', {})).toThrow(/exactly one/);
    expect(() => parseConfig(sf('  password: a\n  schema: "x; DROP"\n'), 'c.yaml', {})).toThrow(
      /warehouse\.schema: letters, digits/,
    );
  });
});

import { createHmac } from 'node:crypto';
import { DRIFT_METADATA_KEY } from './normalize.js';
import type { CanonicalEvent } from './event.js';

/**
 * Personal data handling applied before anything is written (DESIGN: privacy):
 * user ids replaced by a keyed HMAC-SHA256 (the same user gets the same
 * pseudonym in every run and every table, so joins still work; without the
 * key it cannot be reversed or recomputed), and named metadata keys (prompt
 * text, say) removed. Plain data, so it crosses to extract worker threads.
 */
export interface PrivacyRules {
  /** The HMAC key; null when user ids are kept as they are. */
  pseudonymKey: string | null;
  /** Metadata keys removed from events (also as unknown top-level fields) and from rejects. */
  dropMetadataKeys: string[];
}

export const NO_PRIVACY: PrivacyRules = { pseudonymKey: null, dropMetadataKeys: [] };

export function pseudonym(key: string, userId: string): string {
  return `u_${createHmac('sha256', key).update(userId).digest('hex').slice(0, 32)}`;
}

/** Fields of either event shape that name the user. */
const USER_FIELDS = ['user_id', 'user'];
const DROPPED = '[dropped]';

function withoutKeys(value: unknown, keys: string[]): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([key]) => !keys.includes(key)));
}

/** The event as it may be stored: pseudonymised user, named metadata keys gone (drift included). */
export function applyPrivacy(event: CanonicalEvent, rules: PrivacyRules): CanonicalEvent {
  if (rules.pseudonymKey === null && rules.dropMetadataKeys.length === 0) return event;
  const metadata = withoutKeys(event.metadata, rules.dropMetadataKeys) as Record<string, unknown>;
  if (DRIFT_METADATA_KEY in metadata) {
    metadata[DRIFT_METADATA_KEY] = withoutKeys(metadata[DRIFT_METADATA_KEY], rules.dropMetadataKeys);
  }
  const user = event.user_id;
  return {
    ...event,
    user_id: user !== null && rules.pseudonymKey !== null ? pseudonym(rules.pseudonymKey, user) : user,
    metadata,
  };
}

/** A rejected record's parsed value, masked the same way (it is stored as the reject's payload). */
export function maskRecord(value: unknown, rules: PrivacyRules): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const record = withoutKeys(value, rules.dropMetadataKeys) as Record<string, unknown>;
  if ('metadata' in record) record.metadata = withoutKeys(record.metadata, rules.dropMetadataKeys);
  if (rules.pseudonymKey !== null) {
    for (const field of USER_FIELDS) {
      const user = record[field];
      if (typeof user === 'string') record[field] = pseudonym(rules.pseudonymKey, user);
    }
  }
  return record;
}

const JSON_STRING = '"((?:[^"\\\\]|\\\\.)*)"';
/** A JSON string, or one the damage cut off before its closing quote. */
const JSON_STRING_OR_CUT = '"((?:[^"\\\\]|\\\\.)*)(?:"|$)';

/**
 * A rejected record that is not even JSON, masked by pattern: `"user_id": "…"`
 * and `"user": "…"` values pseudonymised, named keys' values replaced. A user id
 * outside those fields cannot be recognised in broken text (a documented limit).
 */
export function maskText(text: string, rules: PrivacyRules): string {
  let out = text;
  if (rules.pseudonymKey !== null) {
    const key = rules.pseudonymKey;
    out = out.replace(
      new RegExp(`"(${USER_FIELDS.join('|')})"\\s*:\\s*${JSON_STRING_OR_CUT}`, 'g'),
      (_, field: string, raw: string) => {
        let user = raw;
        try {
          user = JSON.parse(`"${raw}"`) as string;
        } catch {
          // an escape cut off by the damage: pseudonymise the text as it is
        }
        return `"${field}":"${pseudonym(key, user)}"`;
      },
    );
  }
  for (const name of rules.dropMetadataKeys) {
    const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    out = out.replace(new RegExp(`"${escaped}"\\s*:\\s*(${JSON_STRING}|[^,}\\]]*)`, 'g'), `"${name}":"${DROPPED}"`);
  }
  return out;
}

import { createHmac } from 'node:crypto';
import { DRIFT_METADATA_KEY, type CanonicalEvent } from './event.js';

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
  /**
   * Leave a user id that already is a pseudonym as it is: a replayed reject's
   * payload was masked when it was stored, and must not be pseudonymised twice.
   */
  keepPseudonyms?: boolean;
  /**
   * Users `aetl forget` erased, as subject hashes (keyed with `erasureKey`): their
   * events, should the source send them again, load without them (the unknown
   * user), and their rejects are stored without their id.
   */
  erasedSubjects?: string[];
  erasureKey?: string | null;
}

/** What an erased user's id becomes in a stored reject. */
const ERASED = '(erased)';

const PSEUDONYM = /^u_[0-9a-f]{32}$/;

export const NO_PRIVACY: PrivacyRules = { pseudonymKey: null, dropMetadataKeys: [] };

export function pseudonym(key: string, userId: string): string {
  return `u_${createHmac('sha256', key).update(userId).digest('hex').slice(0, 32)}`;
}

/** The salt of a subject hash when no key is configured: public, so anyone can check whether an id was erased. */
const UNKEYED_ERASURE_SALT = 'aetl-erasure-v1';

/**
 * How `etl_erasure` names an erased user: an HMAC-SHA256 of the id, with the
 * privacy key when there is one (only its holder can tell whom a row is about),
 * else with a public salt (the warehouse held raw ids anyway; a guessable id
 * stays guessable). Never the pseudonym itself: the audit row must not bring
 * back the one token the erasure removed from every table and lake file.
 */
export function subjectHash(key: string | null, userId: string): string {
  return `s_${createHmac('sha256', key ?? UNKEYED_ERASURE_SALT)
    .update(`erasure:${userId}`)
    .digest('hex')}`;
}

/** Erased subjects as a set, built once per rules object (a worker thread keeps its own). */
const erasedSets = new WeakMap<string[], Set<string>>();

/** Whether `aetl forget` erased this user id. */
export function isErased(rules: PrivacyRules, userId: string): boolean {
  const subjects = rules.erasedSubjects;
  if (!subjects || subjects.length === 0) return false;
  let set = erasedSets.get(subjects);
  if (!set) erasedSets.set(subjects, (set = new Set(subjects)));
  return set.has(subjectHash(rules.erasureKey ?? null, userId.trim())); // trimmed, as the contract and forget store ids
}

/** A rule that changes every record as stored: pseudonyms, dropped keys. */
export function rewritesRecords(rules: PrivacyRules): boolean {
  return rules.pseudonymKey !== null || rules.dropMetadataKeys.length > 0;
}

/** Any rule that may change what is stored: those, or an erased user. */
export function masks(rules: PrivacyRules): boolean {
  return rewritesRecords(rules) || (rules.erasedSubjects?.length ?? 0) > 0;
}

/** Whether a parsed record names an erased user in one of its user fields. */
export function holdsErasedUser(value: unknown, rules: PrivacyRules): boolean {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  return USER_FIELDS.some((field) => {
    const user = (value as Record<string, unknown>)[field];
    return user !== null && user !== undefined && typeof user !== 'object' && isErased(rules, String(user));
  });
}

/** Fields of either event shape that name the user. */
export const USER_FIELDS = ['user_id', 'user'];

/** A user id as masking leaves it in a stored reject: a pseudonym, or the erased marker. */
export function isMaskedUserId(value: unknown): boolean {
  return typeof value === 'string' && (PSEUDONYM.test(value) || value === ERASED);
}
const DROPPED = '[dropped]';

function withoutKeys(value: unknown, keys: string[]): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([key]) => !keys.includes(key)));
}

/** The event as it may be stored: pseudonymised user, named metadata keys gone (drift included). */
export function applyPrivacy(event: CanonicalEvent, rules: PrivacyRules): CanonicalEvent {
  // The erased marker (a replayed reject of an erased user) is nobody: the unknown user, like the erased id.
  if (event.user_id === ERASED) return applyPrivacy({ ...event, user_id: null }, rules);
  if (!masks(rules)) return event;
  if (event.user_id !== null && isErased(rules, event.user_id)) return applyPrivacy({ ...event, user_id: null }, rules);
  const metadata = withoutKeys(event.metadata, rules.dropMetadataKeys) as Record<string, unknown>;
  if (DRIFT_METADATA_KEY in metadata) {
    metadata[DRIFT_METADATA_KEY] = withoutKeys(metadata[DRIFT_METADATA_KEY], rules.dropMetadataKeys);
  }
  const user = event.user_id;
  return {
    ...event,
    user_id:
      user === null || rules.pseudonymKey === null || (rules.keepPseudonyms && PSEUDONYM.test(user))
        ? user
        : pseudonym(rules.pseudonymKey, user),
    metadata,
  };
}

/** A rejected record's parsed value, masked the same way (it is stored as the reject's payload). */
export function maskRecord(value: unknown, rules: PrivacyRules): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const record = withoutKeys(value, rules.dropMetadataKeys) as Record<string, unknown>;
  if ('metadata' in record) record.metadata = withoutKeys(record.metadata, rules.dropMetadataKeys);
  for (const field of USER_FIELDS) {
    const user = record[field];
    // Any scalar: a numeric id is an id too.
    if (user === null || user === undefined || typeof user === 'object') continue;
    if (isErased(rules, String(user))) record[field] = ERASED;
    else if (rules.pseudonymKey !== null) record[field] = pseudonym(rules.pseudonymKey, String(user));
  }
  return record;
}

/** Where the JSON value starting at `start` ends: a string, a bracketed value, or a scalar; or the text's end if cut. */
function valueEnd(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') {
        inString = false;
        if (depth === 0) return i + 1;
      }
    } else if (c === '"') inString = true;
    else if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') {
      if (depth === 0) return i;
      if (--depth === 0) return i + 1;
    } else if (c === ',' && depth === 0) return i;
  }
  return text.length;
}

/** Every `"name": value` in the text with its value replaced, however the value is shaped or cut. */
function replaceValues(text: string, name: string, replacement: (value: string) => string): string {
  const key = new RegExp(`"${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"\\s*:\\s*`, 'g');
  let out = '';
  let at = 0;
  for (let match = key.exec(text); match; match = key.exec(text)) {
    const start = match.index + match[0].length;
    const end = valueEnd(text, start);
    out += text.slice(at, start) + replacement(text.slice(start, end));
    at = end;
    key.lastIndex = end;
  }
  return out + text.slice(at);
}

/** A user id as written: a JSON string (maybe cut) or a bare scalar. */
function userOf(raw: string): string {
  const text = raw.trim();
  if (!text.startsWith('"')) return text;
  try {
    return JSON.parse(text) as string;
  } catch {
    return text.slice(1).replace(/"$/, ''); // cut off by the damage: the text as it is
  }
}

/**
 * A rejected record that is not even JSON (or was cut at the size limit),
 * masked by shape: the values of `user_id` and `user` pseudonymised, the named
 * keys' values replaced to their end (a string, an array or an object, cut or
 * not). A user id outside those fields cannot be recognised in broken text.
 */
export function maskText(text: string, rules: PrivacyRules): string {
  let out = text;
  const key = rules.pseudonymKey;
  const masked = (raw: string) => {
    if (raw.trim() === 'null') return raw;
    const user = userOf(raw);
    if (isErased(rules, user)) return `"${ERASED}"`;
    return key === null ? raw : `"${pseudonym(key, user)}"`;
  };
  for (const field of USER_FIELDS) out = replaceValues(out, field, masked);
  for (const name of rules.dropMetadataKeys) out = replaceValues(out, name, () => `"${DROPPED}"`);
  return out;
}

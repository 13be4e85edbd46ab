import type { RejectReason } from './event.js';

// The structural pass over a parsed record, before the contract looks at it (depth, prototype
// keys, lone surrogates, a bound of its JSON size), and the proof from a JSON line's text that
// the pass would find nothing in it.

/** Deeper than any event has reason to be, shallow enough that nothing downstream recurses far. */
const MAX_DEPTH = 32;
/** Keys that could reach an object's prototype: never data in this contract, so never trusted. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * What a JSON line must hold for the walk to possibly find something: a surrogate, a `\u` escape
 * (the only other way to a lone surrogate, and the only escape that spells a letter or `_` of a
 * key) or a forbidden key's own spelling.
 */
const WALK_WORTHY = new RegExp([String.raw`\\u`, '[\ud800-\udfff]', ...FORBIDDEN_KEYS].join('|'));

/** Half of a UTF-16 pair without its other half: text no UTF-8 store can hold as it came. */
export const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

interface Walked {
  node: unknown;
  depth: number;
  key: string;
  parent: Walked | null;
}

/** A node's field path (`metadata.a.b`), built only for the node a reason names. */
function pathOf(entry: Walked): string {
  const keys: string[] = [];
  for (let at: Walked | null = entry; at?.parent; at = at.parent) keys.push(at.key);
  return keys.reverse().join('.') || '(record)';
}

/**
 * Why a parsed record is refused before the contract looks at it, or null:
 * too deep, a prototype key, or a string that is not valid Unicode (it would
 * be stored altered). Iterative, so no record can exhaust the stack here.
 * Also returns an upper bound of the record's JSON size in bytes, so the size
 * limit costs nothing on records clearly below it.
 */
export function inspect(value: unknown): { reason: RejectReason | null; maxBytes: number } {
  const stack: Walked[] = [{ node: value, depth: 0, key: '', parent: null }];
  let maxBytes = 0;
  while (stack.length > 0) {
    const entry = stack.pop()!;
    const { node, depth } = entry;
    if (typeof node === 'string') {
      maxBytes += node.length * 6 + 2; // a UTF-16 unit is at most 6 bytes of JSON (\uXXXX)
      if (LONE_SURROGATE.test(node))
        return { reason: { path: pathOf(entry), message: 'not valid Unicode (a lone surrogate)' }, maxBytes };
      continue;
    }
    if (node === null || typeof node !== 'object') {
      maxBytes += String(node).length + 1;
      continue;
    }
    maxBytes += 2;
    if (depth > MAX_DEPTH)
      return { reason: { path: pathOf(entry), message: `nested deeper than ${MAX_DEPTH} levels` }, maxBytes };
    for (const key of Object.keys(node)) {
      const child: Walked = { node: (node as Record<string, unknown>)[key], depth: depth + 1, key, parent: entry };
      maxBytes += key.length * 6 + 4;
      if (FORBIDDEN_KEYS.has(key))
        return { reason: { path: pathOf(child), message: `the key "${key}" is not accepted anywhere` }, maxBytes };
      if (LONE_SURROGATE.test(key)) {
        return {
          reason: { path: pathOf(child), message: 'a key that is not valid Unicode (a lone surrogate)' },
          maxBytes,
        };
      }
      stack.push(child);
    }
  }
  return { reason: null, maxBytes };
}

/** Whether `text` opens more than `limit` objects and arrays, counting brackets inside strings too (an upper bound). */
function bracketsOver(text: string, limit: number): boolean {
  let count = 0;
  for (const bracket of ['{', '[']) {
    for (let at = text.indexOf(bracket); at !== -1; at = text.indexOf(bracket, at + 1))
      if (++count > limit) return true;
  }
  return false;
}

/**
 * Whether `inspect` would find nothing in a JSON line, proved from its text alone (no lone
 * surrogate or forbidden key without a WALK_WORTHY match, no depth past MAX_DEPTH without that
 * many brackets): most lines, which then skip the walk.
 */
export function plainLine(text: string): boolean {
  return !WALK_WORTHY.test(text) && !bracketsOver(text, MAX_DEPTH);
}

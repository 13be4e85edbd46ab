/**
 * Every user id a reject's payload names, read independently of the loader:
 * its string values when it parses, else its string tokens decoded; trimmed.
 */
export function namesIn(payload: string): string[] {
  const strings = (value: unknown): string[] =>
    typeof value === 'string'
      ? [value.trim()]
      : value !== null && typeof value === 'object'
        ? Object.values(value).flatMap(strings)
        : [];
  try {
    return strings(JSON.parse(payload));
  } catch {
    return [...payload.matchAll(/"(?:[^"\\]|\\.)*"/g)].map((m) => (JSON.parse(m[0]) as string).trim());
  }
}

/**
 * Rewrites each call `head...)` in `code` (arguments may hold parentheses; our
 * SQL has none inside its string literals): `rewrite` gets what stands between
 * the call's parentheses and what follows it, and returns the replacement and
 * how many characters of what follows it replaces too.
 */
export function rewriteCalls(
  code: string,
  head: string,
  rewrite: (inner: string, rest: string) => { text: string; consumed: number },
): string {
  let out = '';
  let at = 0;
  for (let start = code.indexOf(head); start !== -1; start = code.indexOf(head, at)) {
    let depth = 1;
    let i = start + head.length;
    for (; depth > 0 && i < code.length; i++) depth += code[i] === '(' ? 1 : code[i] === ')' ? -1 : 0;
    const { text, consumed } = rewrite(code.slice(start + head.length, i - 1), code.slice(i));
    out += code.slice(at, start) + text;
    at = i + consumed;
  }
  return out + code.slice(at);
}

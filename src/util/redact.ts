/**
 * The one redaction layer: every secret the config holds (tokens, passwords,
 * keys, webhook URLs) is registered when the config is loaded, and every
 * place text leaves the process (log lines, CLI output and errors, the run
 * ledger, check results, alerts) passes through `redact`. Key-based redaction
 * in the logger stays as a second line; this one also catches a secret that a
 * library or server echoes inside a message.
 */
const secrets = new Set<string>();
/** Longest first (a secret containing another is censored whole); sorted once per registration, not per line. */
let ordered: string[] = [];
const CENSOR = '[redacted]';
/** Shorter values would censor ordinary words; no real credential is this short. */
const MIN_SECRET_LENGTH = 6;

export function registerSecret(value: string | undefined): void {
  if (!value || value.length < MIN_SECRET_LENGTH) return;
  secrets.add(value);
  // The forms it takes in a URL or in JSON text.
  secrets.add(encodeURIComponent(value));
  secrets.add(JSON.stringify(value).slice(1, -1));
  ordered = [...secrets].sort((a, b) => b.length - a.length);
}

export function redact(text: string): string {
  let out = text;
  for (const secret of ordered) {
    if (out.includes(secret)) out = out.split(secret).join(CENSOR);
  }
  return out;
}

/** `redact` for a value that may be null (an error column). */
export function redactNullable(text: string | null): string | null {
  return text === null ? null : redact(text);
}

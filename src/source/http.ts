import pRetry, { AbortError } from 'p-retry';
import { setTimeout as sleep } from 'node:timers/promises';
import { SourceAuthError } from '../util/errors.js';
import type { Logger } from '../log/logger.js';

export interface HttpOptions {
  token: string;
  timeoutMs: number;
  maxRetries: number;
  logger: Logger;
}

/** A 410 on a paginated request: the window must be read again from its start (DESIGN.md decision 8). */
export class CursorExpiredError extends Error {
  override readonly name = 'CursorExpiredError';
}

class RetryableHttpError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs: number | undefined,
  ) {
    super(message);
  }
}

const MAX_RETRY_AFTER_MS = 120_000;

function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - Date.now();
  return Number.isFinite(ms) && ms > 0 ? Math.min(ms, MAX_RETRY_AFTER_MS) : undefined;
}

/** The URL as it may appear in logs and errors: no query string (it may carry cursors), never the token. */
export function describeUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

/**
 * GET a JSON document with bounded retries: 429 (honouring Retry-After), 5xx,
 * network errors and bodies that are not JSON are retried with exponential
 * backoff and jitter; 401/403 fail at once. The token is sent only in the
 * Authorization header and never appears in an error.
 */
export async function getJson(url: URL, options: HttpOptions): Promise<unknown> {
  const where = describeUrl(url);
  const attempt = async (): Promise<unknown> => {
    let response: Response;
    try {
      response = await fetch(url, {
        headers: { authorization: `Bearer ${options.token}`, accept: 'application/json' },
        signal: AbortSignal.timeout(options.timeoutMs),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
      throw new RetryableHttpError(`cannot reach ${where} (${cause})`, undefined);
    }
    if (response.status === 401 || response.status === 403) {
      await response.body?.cancel();
      throw new AbortError(
        new SourceAuthError(
          `authentication failed: ${where} answered HTTP ${response.status}; check source.token (the token is not shown)`,
        ),
      );
    }
    if (response.status === 429 || response.status >= 500) {
      await response.body?.cancel();
      throw new RetryableHttpError(
        `${where} answered HTTP ${response.status}`,
        retryAfterMs(response.headers.get('retry-after')),
      );
    }
    if (response.status === 410) {
      await response.body?.cancel();
      throw new AbortError(new CursorExpiredError(`${where} answered HTTP 410: the cursor expired`));
    }
    const text = await response.text();
    if (!response.ok) throw new AbortError(`${where} answered HTTP ${response.status}: ${text.slice(0, 200)}`);
    try {
      return JSON.parse(text);
    } catch {
      throw new RetryableHttpError(
        `${where} returned a body that is not JSON: ${JSON.stringify(text.slice(0, 80))}`,
        undefined,
      );
    }
  };
  return pRetry(attempt, {
    retries: options.maxRetries,
    minTimeout: 200,
    maxTimeout: 10_000,
    factor: 2,
    randomize: true,
    onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
      options.logger.warn(
        { url: where, attempt: attemptNumber, retriesLeft, err: error.message },
        'source request failed',
      );
      if (error instanceof RetryableHttpError && error.retryAfterMs && retriesLeft > 0) await sleep(error.retryAfterMs);
    },
  });
}

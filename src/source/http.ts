import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { setTimeout as sleep } from 'node:timers/promises';
import pRetry, { AbortError } from 'p-retry';
import type { Logger } from '../log/logger.js';
import { SourceAuthError } from '../util/errors.js';

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

/** No answer at all (refused, no such host, a timeout): the source or the network between is down. */
export class SourceUnreachableError extends RetryableHttpError {
  override readonly name = 'SourceUnreachableError';
}

const MAX_RETRY_AFTER_MS = 120_000;

function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - Date.now();
  return Number.isFinite(ms) && ms > 0 ? Math.min(ms, MAX_RETRY_AFTER_MS) : undefined;
}

/** Why fetch failed, as the system said it: ECONNREFUSED, ENOTFOUND, a timeout (undici nests the code). */
function networkCause(error: unknown): string {
  const cause = (error as { cause?: { code?: string; errors?: { code?: string }[]; message?: string } }).cause;
  if (error instanceof Error && error.name === 'TimeoutError') return 'no answer within source.timeout';
  return cause?.code ?? cause?.errors?.[0]?.code ?? cause?.message ?? (error as Error).name;
}

/** The URL as it may appear in logs and errors: no query string (it may carry cursors), never the token. */
export function describeUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

/**
 * One HTTP exchange with bounded retries: 429 (honouring Retry-After), 5xx,
 * network errors and unusable bodies are retried with exponential backoff
 * and jitter; 401/403 fail at once. The token is sent only in the
 * Authorization header and never appears in an error. `consume` reads a
 * successful response; throwing RetryableHttpError from it retries.
 */
async function exchange<T>(
  url: URL,
  options: HttpOptions,
  init: { method: 'GET' | 'POST'; body?: unknown; timeoutMs?: number },
  consume: (response: Response, where: string) => Promise<T>,
): Promise<T> {
  const where = describeUrl(url);
  const attempt = async (): Promise<T> => {
    let response: Response;
    try {
      response = await fetch(url, {
        method: init.method,
        headers: {
          authorization: `Bearer ${options.token}`,
          accept: 'application/json',
          ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
        signal: AbortSignal.timeout(init.timeoutMs ?? options.timeoutMs),
      });
    } catch (error) {
      throw new SourceUnreachableError(
        `cannot reach ${where} (${networkCause(error)}): check source.url, that the API is up, and the network between`,
        undefined,
      );
    }
    if (response.status === 401 || response.status === 403) {
      await response.body?.cancel();
      throw new AbortError(
        new SourceAuthError(
          `authentication failed: ${where} answered HTTP ${response.status}; check source.token (the token is not shown)`,
          'source.token',
        ),
      );
    }
    if (response.status === 429 || response.status >= 500) {
      await response.body?.cancel();
      const delay = retryAfterMs(response.headers.get('retry-after'));
      throw new RetryableHttpError(`${where} answered HTTP ${response.status}`, delay);
    }
    if (response.status === 410) {
      await response.body?.cancel();
      throw new AbortError(new CursorExpiredError(`${where} answered HTTP 410: the cursor expired`));
    }
    if (!response.ok) {
      const text = await response.text();
      throw new AbortError(`${where} answered HTTP ${response.status}: ${text.slice(0, 200)}`);
    }
    return consume(response, where);
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

async function readJson(response: Response, where: string): Promise<unknown> {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    // A truncated body or an HTML error page from a proxy: transient more often than not.
    throw new RetryableHttpError(
      `${where} returned a body that is not JSON: ${JSON.stringify(text.slice(0, 80))}`,
      undefined,
    );
  }
}

export function getJson(url: URL, options: HttpOptions): Promise<unknown> {
  return exchange(url, options, { method: 'GET' }, readJson);
}

/** A GET's JSON body and the server's clock (its `Date` header, whole seconds), against which skew is measured. */
export function getJsonDated(
  url: URL,
  options: HttpOptions,
): Promise<{ body: unknown; sourceMs: number | undefined; localMs: number }> {
  return exchange(url, options, { method: 'GET' }, async (response, where) => {
    const localMs = Date.now();
    const sourceMs = Date.parse(response.headers.get('date') ?? '');
    return { body: await readJson(response, where), sourceMs: Number.isNaN(sourceMs) ? undefined : sourceMs, localMs };
  });
}

export function postJson(url: URL, body: unknown, options: HttpOptions): Promise<unknown> {
  return exchange(url, options, { method: 'POST', body }, readJson);
}

/** Streams a download to `path` (bounded memory); a broken transfer is retried from the start. */
export async function downloadTo(url: URL, path: string, options: HttpOptions, timeoutMs: number): Promise<number> {
  return exchange(url, options, { method: 'GET', timeoutMs }, async (response, where) => {
    if (!response.body) throw new RetryableHttpError(`${where} returned no body`, undefined);
    let bytes = 0;
    const body = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
    body.on('data', (chunk: Buffer) => (bytes += chunk.length));
    try {
      await pipeline(body, createWriteStream(path));
    } catch (error) {
      throw new RetryableHttpError(`download from ${where} broke off: ${(error as Error).message}`, undefined);
    }
    return bytes;
  });
}

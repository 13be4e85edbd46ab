import { createHmac } from 'node:crypto';
import pRetry from 'p-retry';
import type { AlertConfig } from '../config/checks-schema.js';
import type { Logger } from '../log/logger.js';
import { redact } from '../util/redact.js';
import type { CheckResult } from '../warehouse/warehouse.js';

export interface AlertRun {
  runId: string;
  pipeline: string;
  command: string;
  status: string;
  error: string | null;
}

const MAX_LINES = 20;

/** `sha256=<hex>` of the exact body bytes; receivers compare it in constant time. */
export function signature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

function text(run: AlertRun, matching: CheckResult[]): string {
  const fails = matching.filter((c) => c.status === 'fail' || c.status === 'error').length;
  const warns = matching.length - fails;
  const head = `aetl ${run.command} ${run.runId} (${run.pipeline}): ${run.status}, ${fails} failing, ${warns} warning`;
  const lines = matching
    .slice(0, MAX_LINES)
    .map((c) => `• ${c.status.toUpperCase()} ${c.name} (${c.scope}): ${c.message}`);
  if (matching.length > MAX_LINES) lines.push(`… and ${matching.length - MAX_LINES} more in dq_check_result`);
  return [head, ...lines].join('\n');
}

/**
 * One message per run to a Slack-compatible webhook, summarising failures
 * and warnings, its body signed with HMAC-SHA256 in `X-Signature`. Retries
 * are bounded; a failed alert is logged and never fails the run. The URL is
 * never logged whole (webhook URLs are credentials).
 */
export async function sendAlert(
  config: AlertConfig,
  run: AlertRun,
  checks: CheckResult[],
  logger: Logger,
): Promise<void> {
  const matching = checks.filter((c) => (config.on as string[]).includes(c.status));
  if (matching.length === 0) return;
  const body = redact(
    JSON.stringify({
      text: text(run, matching),
      run_id: run.runId,
      pipeline: run.pipeline,
      command: run.command,
      status: run.status,
      checks: matching.map(({ name, scope, status, observed, expected, message, bucket }) => ({
        name,
        scope,
        status,
        observed,
        expected,
        message,
        bucket: bucket ? new Date(bucket).toISOString() : null,
      })),
    }),
  );
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (config.secret) headers['x-signature'] = signature(config.secret, body);
  const where = new URL(config.url).origin;
  try {
    await pRetry(
      async () => {
        const response = await fetch(config.url, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.timeout(config.timeout),
        });
        await response.body?.cancel();
        if (!response.ok) throw new Error(`${where} answered HTTP ${response.status}`);
      },
      { retries: config.max_retries, minTimeout: 200, maxTimeout: 5_000 },
    );
    logger.info({ alert: where, checks: matching.length }, 'alert sent');
  } catch (error) {
    logger.error(
      { alert: where, err: (error as Error).message },
      'alert could not be delivered; the run is not affected',
    );
  }
}

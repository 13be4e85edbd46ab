import { pino, type Logger as PinoLogger } from 'pino';
import { createRequire } from 'node:module';
import type pinoPretty from 'pino-pretty';
import { redact } from '../util/redact.js';
import { stderrLines } from './terminal.js';

export type Logger = PinoLogger;

/** Keys that could carry a secret are censored wherever they appear in a log record. */
const SECRET_KEYS = [
  'token',
  'access_token',
  'password',
  'authorization',
  'secret',
  'private_key',
  'private_key_passphrase',
  'privateKey',
  'passphrase',
];
const REDACT_PATHS = [...SECRET_KEYS, ...SECRET_KEYS.map((key) => `*.${key}`)];

/**
 * Logs go to stderr so that stdout stays free for summaries and `--json`.
 * JSON lines when stderr is not a TTY; pretty, human lines when it is.
 */
export function createLogger(level: string, stream: NodeJS.WriteStream & { fd?: number } = process.stderr): Logger {
  const options = {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: undefined,
    // Value-based, after key-based: a secret inside any message or field is censored too.
    hooks: { streamWrite: redact },
  };
  if (stream.isTTY) {
    // On stderr's terminal the lines go through the progress line's owner, which keeps them apart.
    const destination = stream === process.stderr && stderrLines ? stderrLines.logStream() : stream;
    // Required only here, for a terminal: every other start (pipes, tests, cron) would load it for nothing.
    const pretty = createRequire(import.meta.url)('pino-pretty') as typeof pinoPretty;
    return pino(options, pretty({ destination, colorize: true, sync: true, ignore: 'pid,hostname' }));
  }
  return pino(options, pino.destination({ fd: stream.fd ?? 2, sync: true }));
}

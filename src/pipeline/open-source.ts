import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { ReferenceData } from '../reference/reference-data.js';
import { startSimulator } from '../simulator/simulator.js';
import { join } from 'node:path';
import { EventsApiSource } from '../source/events-api.js';
import { ExportApiSource } from '../source/export-api.js';
import type { HttpOptions } from '../source/http.js';
import type { WindowedSource } from '../source/source.js';
import { ConfigError } from '../util/errors.js';

export type OpenedSource =
  | { kind: 'windowed'; source: WindowedSource; close(): Promise<void> }
  | { kind: 'files'; pattern: string; close(): Promise<void> };

/** How the configured HTTP source is called (timeout, retries), with `token`. */
export function sourceHttp(config: Config, token: string, logger: Logger): HttpOptions {
  return { token, timeoutMs: config.source.timeout, maxRetries: config.source.max_retries, logger };
}

/** The configured source; `simulator` starts the built-in Events API on 127.0.0.1 for this run. */
export async function openSource(
  config: Config,
  reference: ReferenceData,
  logger: Logger,
  now: () => number,
): Promise<OpenedSource> {
  const s = config.source;
  const http = (token: string) => sourceHttp(config, token, logger);
  switch (s.kind) {
    case 'files':
      return { kind: 'files', pattern: s.files!, close: async () => undefined };
    case 'export_api': {
      const downloads = join(config.staging.path, config.pipeline.name, 'downloads');
      return {
        kind: 'windowed',
        source: new ExportApiSource(s.url!, http(s.token!), s.export, downloads, s.max_record_bytes),
        close: async () => undefined,
      };
    }
    case 'events_api':
      return {
        kind: 'windowed',
        source: new EventsApiSource(s.url!, s.page_size, http(s.token!)),
        close: async () => undefined,
      };
    case 'simulator': {
      if (reference.users.length === 0 || reference.gateways.length === 0 || reference.models.length === 0) {
        throw new ConfigError('source.kind simulator needs reference.users, reference.gateways and reference.models');
      }
      const simulator = await startSimulator(s.simulator, reference, now);
      logger.info({ url: simulator.url, seed: s.simulator.seed }, 'simulator started');
      return {
        kind: 'windowed',
        // Named by seed, not by its per-process port, so rejects keep the same location across runs.
        source: new EventsApiSource(
          simulator.url,
          s.page_size,
          http(simulator.token),
          `simulator:seed=${s.simulator.seed}/v1/events`,
        ),
        close: () => simulator.close(),
      };
    }
  }
}

import { randomBytes } from 'node:crypto';
import type { SimulatorSettings } from '../config/schema.js';
import type { ReferenceData } from '../reference/reference-data.js';
import { EventUniverse } from './generator.js';
import { startSimulatorServer, type SimulatorServer } from './server.js';

export interface RunningSimulator extends SimulatorServer {
  token: string;
  universe: EventUniverse;
}

/** Starts the simulator on 127.0.0.1 (port 0 = any free port) with a fresh random token unless one is given. */
export async function startSimulator(
  settings: SimulatorSettings,
  reference: ReferenceData,
  now: () => number,
  options: { port?: number; token?: string } = {},
): Promise<RunningSimulator> {
  const universe = new EventUniverse(settings, reference);
  const token = options.token ?? randomBytes(24).toString('base64url');
  const server = await startSimulatorServer({ universe, token, now, port: options.port });
  return { ...server, token, universe };
}

import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './workspace.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const CLI = join(REPO, 'dist/cli/main.js');

/** Runs the built CLI as a child process (its own process group, killed on timeout). */
export async function aetl(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 60_000,
  cwd = REPO,
): Promise<CliResult> {
  const running = spawnAetl(args, env, cwd);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    running.signal('SIGKILL');
  }, timeoutMs);
  const result = await running.done;
  clearTimeout(timer);
  if (timedOut) throw new Error(`aetl ${args.join(' ')} timed out after ${timeoutMs} ms\n${result.stderr}`);
  return result;
}

export interface RunningCli {
  child: ChildProcess;
  done: Promise<CliResult>;
  /** The JSON log records written to stderr so far. */
  logs(): Record<string, unknown>[];
  /** Resolves once a log record matches (polls; rejects after `timeoutMs`). */
  waitForLog(match: (record: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<void>;
  /** Sends a signal to the child's process group. */
  signal(signal: NodeJS.Signals): void;
}

/** Starts the built CLI without waiting for it (long runs, the scheduler): its own process group. */
export function spawnAetl(args: string[], env: Record<string, string> = {}, cwd = REPO): RunningCli {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd,
    env: { ...process.env, NO_PROXY: '127.0.0.1,localhost', ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  const logs = () =>
    stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return {
    child,
    done,
    logs,
    async waitForLog(match, timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs;
      while (!logs().some(match)) {
        if (Date.now() > until || child.exitCode !== null) {
          throw new Error(`no matching log record within ${timeoutMs} ms; stderr:\n${stderr}`);
        }
        await sleep(50);
      }
    },
    signal(signal) {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // already gone
      }
    },
  };
}

/** Resolves once the child stopped itself (a SIGSTOP failpoint, AETL_FAILPOINT_SIGNAL); rejects if it ended first. */
export async function stopped(run: RunningCli): Promise<void> {
  for (let i = 0; i < 1200; i++) {
    if (run.child.exitCode !== null) throw new Error(`the run ended before its failpoint:\n${(await run.done).stderr}`);
    const state = readFileSync(`/proc/${run.child.pid}/stat`, 'utf8').split(') ')[1];
    if (state?.startsWith('T')) return;
    await sleep(50);
  }
  throw new Error('the run never reached its failpoint');
}

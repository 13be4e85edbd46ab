import { userInfo } from 'node:os';

/** Who runs the command: the default requester of `forget` and acceptor of `accept-loss`. */
export function osUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown'; // a uid without a passwd entry (containers)
  }
}

import type { CheckStatus } from '../warehouse/warehouse.js';

/** A finding is a `fail` (exit 3) for a check of severity `error`, a `warn` (exit 0) for one of severity `warn`. */
export function failedStatus(severity: 'warn' | 'error'): CheckStatus {
  return severity === 'error' ? 'fail' : 'warn';
}

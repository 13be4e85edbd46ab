/** A valid shape A event at 2026-04-10T08:MM (with `extra` fields set or overridden), for file-source tests. */
export function shapeA(id: string, minute: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    timestamp: `2026-04-10T08:${String(minute).padStart(2, '0')}:00Z`,
    decision: 'allowed',
    model: 'gpt-4o',
    provider: 'openai',
    input_tokens: 100 + minute,
    output_tokens: 50,
    policies_evaluated: [{ name: 'content_safety', result: 'pass', latency_ms: 3 }],
    gateway_id: 'gw_prod_east',
    user_id: 'user_001',
    cost_usd: 0.0012,
    ...extra,
  };
}

/** Events as JSON lines. */
export function jsonLines(events: object[]): string {
  return events.map((e) => JSON.stringify(e)).join('\n');
}

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { isoDay } from '../util/dates.js';
import type { ReportData } from './report-data.js';

/**
 * `aetl report` as one self-contained HTML file: Chart.js (MIT) is inlined,
 * the data is embedded as JSON, nothing is fetched; it opens from disk in any
 * browser. Charts are drawn without animation, so a headless browser (and a
 * screenshot) sees them complete; `data-rendered` on <body> says when.
 */
/** Chart.js's browser build, beside its package entry (the package exports no path to it). */
function chartJs(): string {
  const entry = createRequire(import.meta.url).resolve('chart.js');
  return readFileSync(join(dirname(entry), 'chart.umd.min.js'), 'utf8');
}
const DECISIONS = ['allow', 'redact', 'escalate', 'block'];
const PALETTE = [
  '#4e79a7',
  '#59a14f',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
];

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON that is safe inside a <script> element (no `</script>`, no HTML comment openers). */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

const hourLabel = (ms: number) => new Date(ms).toISOString().slice(5, 13).replace('T', ' ') + 'h';

/** Chart.js configurations, computed here so the page only draws. */
function charts(data: ReportData): { id: string; title: string; config: unknown }[] {
  const hours = [...new Set(data.hourly.map((h) => h.hourMs))].sort((a, b) => a - b);
  const days = [...new Set(data.hourly.map((h) => isoDay(h.hourMs)))].sort();
  const count = (filter: (h: ReportData['hourly'][number]) => boolean) =>
    data.hourly.filter(filter).reduce((sum, h) => sum + h.events, 0);
  const color = (i: number) => PALETTE[i % PALETTE.length]!;
  const byDecision = (labels: string[], match: (label: string, h: ReportData['hourly'][number]) => boolean) =>
    DECISIONS.map((decision, i) => ({
      label: decision,
      backgroundColor: decision === 'block' ? '#e15759' : color(i),
      data: labels.map((label) => count((h) => h.decision === decision && match(label, h))),
    }));
  const stacked = { x: { stacked: true }, y: { stacked: true, beginAtZero: true } };
  const base = { animation: false, responsive: true, maintainAspectRatio: false };

  const hourKeys = hours.map(String);
  const blockRate = hours.map((hour) => {
    const all = count((h) => h.hourMs === hour);
    return all === 0 ? null : count((h) => h.hourMs === hour && h.decision === 'block') / all;
  });
  const flagged = new Set(data.blockAnomalies.map((a) => a.hourMs));

  const teams = [...new Set(data.cost.map((c) => c.team))].sort();
  const models = [...new Set(data.cost.map((c) => c.model))].sort();
  const gateways = [...new Set(data.latency.map((l) => l.gateway))].sort();
  const latencyDays = [...new Set(data.latency.map((l) => l.day))].sort();

  return [
    {
      id: 'daily-volume',
      title: 'Daily volume by decision',
      config: {
        type: 'bar',
        data: { labels: days, datasets: byDecision(days, (day, h) => isoDay(h.hourMs) === day) },
        options: { ...base, scales: stacked },
      },
    },
    {
      id: 'hourly-volume',
      title: 'Hourly volume by decision',
      config: {
        type: 'bar',
        data: {
          labels: hours.map(hourLabel),
          datasets: byDecision(hourKeys, (hour, h) => String(h.hourMs) === hour),
        },
        options: { ...base, scales: stacked },
      },
    },
    {
      id: 'block-rate',
      title: 'Block rate per hour (red: anomaly flagged by the checks)',
      config: {
        type: 'line',
        data: {
          labels: hours.map(hourLabel),
          datasets: [
            { label: 'block rate', data: blockRate, borderColor: '#4e79a7', pointRadius: 0, spanGaps: true },
            {
              label: 'anomaly',
              data: hours.map((hour, i) => (flagged.has(hour) ? blockRate[i] : null)),
              borderColor: '#e15759',
              backgroundColor: '#e15759',
              pointRadius: 6,
              showLine: false,
            },
          ],
        },
        options: { ...base, scales: { y: { beginAtZero: true, ticks: { format: { style: 'percent' } } } } },
      },
    },
    {
      id: 'cost',
      title: 'Cost (USD) by team and model',
      config: {
        type: 'bar',
        data: {
          labels: teams,
          datasets: models.map((model, i) => ({
            label: model,
            backgroundColor: color(i),
            data: teams.map((team) => data.cost.find((c) => c.team === team && c.model === model)?.cost ?? 0),
          })),
        },
        options: { ...base, scales: stacked },
      },
    },
    {
      id: 'latency',
      title: 'p99 latency (ms) by gateway',
      config: {
        type: 'line',
        data: {
          labels: latencyDays,
          datasets: gateways.map((gateway, i) => ({
            label: gateway,
            borderColor: color(i),
            backgroundColor: color(i),
            data: latencyDays.map(
              (day) => data.latency.find((l) => l.day === day && l.gateway === gateway)?.p99 ?? null,
            ),
          })),
        },
        options: { ...base, scales: { y: { beginAtZero: true } } },
      },
    },
    {
      id: 'runs',
      title: 'Runs: duration (s) and records rejected',
      config: {
        type: 'bar',
        data: {
          labels: data.runs.map((r) => `${hourLabel(r.startedMs)} ${r.command}`),
          datasets: [
            {
              label: 'duration (s)',
              data: data.runs.map((r) => r.seconds),
              backgroundColor: data.runs.map((r) => (r.status === 'succeeded' ? '#59a14f' : '#e15759')),
              yAxisID: 'y',
            },
            {
              type: 'line',
              label: 'rejected',
              data: data.runs.map((r) => r.rejected),
              borderColor: '#f28e2b',
              yAxisID: 'y1',
            },
          ],
        },
        options: {
          ...base,
          scales: {
            y: { beginAtZero: true },
            y1: { beginAtZero: true, position: 'right', grid: { drawOnChartArea: false } },
          },
        },
      },
    },
  ];
}

export function reportHtml(data: ReportData): string {
  const all = charts(data);
  const rows = data.checks
    .map(
      (c) =>
        `<tr class="${escapeHtml(c.status)}"><td>${escapeHtml(new Date(c.checkedMs).toISOString())}</td><td>${escapeHtml(c.status)}</td>` +
        `<td>${escapeHtml(c.name)}</td><td>${escapeHtml(c.scope)}</td><td>${escapeHtml(c.message)}</td></tr>`,
    )
    .join('\n');
  const title = `aetl report: ${data.pipeline}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  .meta { color: #666; margin: 0 0 16px; }
  .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 16px; }
  figure { margin: 0; border: 1px solid #ddd; border-radius: 6px; padding: 12px; }
  figcaption { font-weight: 600; margin-bottom: 8px; }
  .chart { position: relative; height: 260px; }
  table { border-collapse: collapse; width: 100%; margin-top: 8px; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eee; vertical-align: top; }
  tr.fail td, tr.error td { color: #b00020; }
  tr.warn td { color: #8a6d00; }
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p class="meta">${escapeHtml(data.warehouse)} · ${escapeHtml(isoDay(data.fromMs))} to ${escapeHtml(new Date(data.toMs).toISOString())} · generated ${escapeHtml(new Date(data.generatedMs).toISOString())}</p>
<section class="grid">
${all.map((c) => `<figure><figcaption>${escapeHtml(c.title)}</figcaption><div class="chart"><canvas id="${c.id}"></canvas></div></figure>`).join('\n')}
</section>
<h2>Check results: failures and warnings</h2>
<table id="checks">
<thead><tr><th>checked</th><th>status</th><th>check</th><th>scope</th><th>message</th></tr></thead>
<tbody>
${rows || '<tr><td colspan="5">no failure or warning in this range</td></tr>'}
</tbody>
</table>
<script>${chartJs()}</script>
<script type="application/json" id="charts">${scriptJson(all.map(({ id, config }) => ({ id, config })))}</script>
<script>
  for (const { id, config } of JSON.parse(document.getElementById('charts').textContent)) {
    new Chart(document.getElementById(id), config);
  }
  document.body.dataset.rendered = 'true';
</script>
</body>
</html>
`;
}

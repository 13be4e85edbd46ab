import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { isoDay } from '../util/dates.js';
import { CHECK_ROWS, type ReportData } from './report-data.js';

/**
 * `aetl report` as one self-contained HTML file: Chart.js (MIT) is inlined,
 * the data is embedded as JSON, nothing is fetched; it opens from disk in any
 * browser. Charts are drawn without animation, so a headless browser (and a
 * screenshot) sees them complete; `data-rendered` on <body> says when.
 * What a chart cannot show is said in words: nothing loaded yet, anomaly
 * checks short of history, and the failing checks first, each linked to
 * its rows further down.
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

interface ChartSpec {
  id: string;
  title: string;
  config: unknown;
  /** Said instead of drawing an empty chart. */
  empty: string | null;
}

/** Chart.js configurations, computed here so the page only draws. */
function charts(data: ReportData): ChartSpec[] {
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
  const noEvents = hours.length === 0 ? noEventsText(data) : null;

  return [
    {
      id: 'daily-volume',
      empty: noEvents,
      title: 'Daily volume by decision',
      config: {
        type: 'bar',
        data: { labels: days, datasets: byDecision(days, (day, h) => isoDay(h.hourMs) === day) },
        options: { ...base, scales: stacked },
      },
    },
    {
      id: 'hourly-volume',
      empty: noEvents,
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
      empty: noEvents,
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
      empty: data.cost.length === 0 ? (noEvents ?? 'No cost recorded in this range.') : null,
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
      empty: data.latency.length === 0 ? (noEvents ?? 'No latency recorded in this range.') : null,
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
      empty: data.runs.length === 0 ? 'No runs in this range.' : null,
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

type CheckRow = ReportData['checks'][number];

const instant = (ms: number) => new Date(ms).toISOString();
const hourText = (ms: number) => `${instant(ms).slice(0, 13)}:00Z`;
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** What the event charts say when the range holds no event. */
function noEventsText(data: ReportData): string {
  if (data.loadedEvents === 0) return 'No events loaded yet: run `aetl run`.';
  return `No events in this range (${data.loadedEvents.toLocaleString('en-US')} loaded outside it: try a longer \`aetl report --days N\`).`;
}

const SLOT_UNIT: Record<ReportData['shortOfHistory'][number]['seasonality'], string> = {
  hour_of_day: 'day',
  hour_of_week: 'week',
  none: 'hour',
};

/** The notices above the charts: nothing loaded, anomaly checks still learning. */
function notices(data: ReportData): string[] {
  const said: string[] = [];
  if (data.hourly.length === 0) said.push(noEventsText(data));
  const short = data.shortOfHistory.reduce<ReportData['shortOfHistory'][number] | null>(
    (most, s) => (most === null || s.needed - s.found > most.needed - most.found ? s : most),
    null,
  );
  if (short) {
    const missing = short.needed - short.found;
    said.push(
      `Anomaly checks need ${plural(missing, `more ${SLOT_UNIT[short.seasonality]}`)} of history (insufficient_history): ` +
        `the newest hour judged, ${hourText(short.bucketMs)}, had ${short.found} of the ${short.needed} ${short.seasonality} training buckets ` +
        `(${short.check} for ${short.scope}); until then they neither pass nor fail.`,
    );
  }
  return said;
}
/** The anchor of a failing check's rows. */
const anchor = (check: string) => `check-${check.replace(/[^A-Za-z0-9_-]/g, '-')}`;

function checkRow(c: CheckRow, withName: boolean): string {
  const cells = [
    instant(c.checkedMs),
    c.status,
    ...(withName ? [c.name] : []),
    c.scope,
    c.bucketMs === null ? '' : hourText(c.bucketMs),
    c.observed === null ? '' : String(c.observed),
    c.expected ?? '',
    c.message,
  ];
  return `<tr class="${escapeHtml(c.status)}">${cells.map((cell) => `<td>${escapeHtml(cell)}</td>`).join('')}</tr>`;
}

function checkTable(rows: CheckRow[], withName: boolean, attributes = ''): string {
  const head = [
    'checked',
    'status',
    ...(withName ? ['check'] : []),
    'scope',
    'hour',
    'observed',
    'expected',
    'message',
  ];
  return `<table${attributes}>
<thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead>
<tbody>
${rows.map((r) => checkRow(r, withName)).join('\n')}
</tbody>
</table>`;
}

/** The "Failing checks" list at the top: one line per check, linked to its rows. */
function failingList(data: ReportData): string {
  if (data.failing.length === 0) return '<p>No failing checks in this range.</p>';
  const items = data.failing.map(({ name, results }) => {
    const latest = data.checks.find((c) => c.name === name && c.status !== 'warn');
    const status = latest?.status ?? 'fail';
    return (
      `<li class="${escapeHtml(status)}"><a href="#${anchor(name)}">${escapeHtml(name)}</a>: ` +
      `${escapeHtml(plural(results, `${status} result`))}${latest ? `, latest: ${escapeHtml(latest.message)}` : ''}</li>`
    );
  });
  return `<ul>\n${items.join('\n')}\n</ul>`;
}

/** Each failing check's rows under its anchor, with the command that lists them from the ledger. */
function failingRows(data: ReportData): string {
  return data.failing
    .map(({ name, results }) => {
      const rows = data.checks.filter((c) => c.name === name && c.status !== 'warn');
      const runs = [...new Set(rows.map((r) => r.runId))].slice(0, 3);
      const commands = runs.map((run) => `<code>aetl runs show ${escapeHtml(run)}</code>`).join(', ');
      const more =
        results > rows.length
          ? `<p>${results - rows.length} more not shown (the page keeps ${CHECK_ROWS} results).</p>`
          : '';
      return `<section class="check-rows" id="${anchor(name)}">
<h3>${escapeHtml(name)}: ${escapeHtml(plural(results, 'failing result'))}</h3>
${runs.length > 0 ? `<p>In the run ledger: ${commands}</p>` : ''}
${checkTable(rows, false)}
${more}
</section>`;
    })
    .join('\n');
}

export function reportHtml(data: ReportData): string {
  const all = charts(data);
  const drawn = all.filter((c) => c.empty === null);
  const warnings = data.checks.filter((c) => c.status === 'warn');
  const said = notices(data);
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
  .notice { background: #fff8e1; border: 1px solid #f0d98c; border-radius: 6px; padding: 8px 12px; }
  .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 16px; }
  figure { margin: 0; border: 1px solid #ddd; border-radius: 6px; padding: 12px; }
  figcaption { font-weight: 600; margin-bottom: 8px; }
  .chart { position: relative; height: 260px; }
  .empty { color: #666; }
  table { border-collapse: collapse; width: 100%; margin-top: 8px; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eee; vertical-align: top; }
  li.fail, li.error, tr.fail td, tr.error td { color: #b00020; }
  tr.warn td { color: #8a6d00; }
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p class="meta">${escapeHtml(data.warehouse)} · ${escapeHtml(isoDay(data.fromMs))} to ${escapeHtml(instant(data.toMs))} · generated ${escapeHtml(instant(data.generatedMs))}</p>
${said.map((text) => `<p class="notice">${escapeHtml(text)}</p>`).join('\n')}
<section id="failing">
<h2>Failing checks</h2>
${failingList(data)}
</section>
<section class="grid">
${all
  .map(
    (c) =>
      `<figure><figcaption>${escapeHtml(c.title)}</figcaption>` +
      (c.empty === null
        ? `<div class="chart"><canvas id="${c.id}"></canvas></div>`
        : `<p class="empty" id="${c.id}">${escapeHtml(c.empty)}</p>`) +
      '</figure>',
  )
  .join('\n')}
</section>
${data.failing.length > 0 ? `<h2>Failing checks: their results</h2>\n${failingRows(data)}` : ''}
<h2>Warnings</h2>
${warnings.length > 0 ? checkTable(warnings, true, ' id="warnings"') : '<p>No warning in this range.</p>'}
<script>${chartJs()}</script>
<script type="application/json" id="charts">${scriptJson(drawn.map(({ id, config }) => ({ id, config })))}</script>
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

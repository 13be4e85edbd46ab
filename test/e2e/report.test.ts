import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aetl } from '../helpers/cli.js';
import { REPO, Workspace } from '../helpers/workspace.js';

/** Debian's Chromium, as .ci/run installs it (never a browser download). */
const CHROMIUM = '/usr/bin/chromium';
const NOW = '2026-06-10T06:00:00Z';
const CHARTS = ['daily-volume', 'hourly-volume', 'block-rate', 'cost', 'latency', 'runs'];
/** The training the short-history pipeline's anomaly checks ask for (hour-of-day buckets, one a day). */
const MIN_TRAINING = 3;
if (!existsSync(CHROMIUM)) console.info(`report: skipped (no ${CHROMIUM}; .ci/run installs Debian's chromium)`);

/** Writes the report of a workspace's pipeline; returns its HTML file. */
async function report(config: string, file: string): Promise<string> {
  const written = await aetl(['report', '--days', '3', '--out', file, '--config', config], { AETL_NOW: NOW });
  expect(written.code, written.stderr).toBe(0);
  expect(written.stdout).toContain(file);
  return file;
}

describe.skipIf(!existsSync(CHROMIUM))(
  'aetl report: one self-contained HTML file, rendered in headless Chromium',
  () => {
    const empty = new Workspace();
    const short = new Workspace();
    const failing = new Workspace();
    let browser: Browser;
    const files = { empty: '', short: '', failing: '' };
    /** The failing pipeline's fail and error results, as the warehouse holds them. */
    let failed: { check_name: string; run_id: string; message: string }[] = [];

    beforeAll(async () => {
      const emptyConfig = empty.writeConfig();
      // Two days of history: the newest hour judged has one earlier day to train on, MIN_TRAINING needed.
      const shortConfig = short.writeConfig({
        source: { kind: 'simulator', simulator: { seed: 5, rate_per_minute: 1 } },
        window: { initial_start: '2026-06-08T06:00:00Z' },
        checks: { anomalies: { min_training: MIN_TRAINING } },
      });
      // A source that loses 5% of what it counts: the completeness check fails (the injected failure).
      const failingConfig = failing.writeConfig({
        source: { kind: 'simulator', simulator: { seed: 12, rate_per_minute: 4, faults: { lost_share: 0.05 } } },
      });
      const [shortRun, failingRun] = await Promise.all([
        aetl(['run', '--config', shortConfig], { AETL_NOW: NOW }, 120_000),
        aetl(['run', '--config', failingConfig], { AETL_NOW: NOW }, 120_000),
      ]);
      expect(shortRun.code, shortRun.stderr).toBe(0);
      expect(failingRun.code, failingRun.stderr).toBe(3);
      const sql = failing.path('failed.sql');
      writeFileSync(
        sql,
        "SELECT check_name, run_id, message FROM dq_check_result WHERE status IN ('fail', 'error') ORDER BY checked_at",
      );
      const query = await aetl(['query', sql, '--format', 'json', '--config', failingConfig], { AETL_NOW: NOW });
      expect(query.code, query.stderr).toBe(0);
      failed = (JSON.parse(query.stdout) as { rows: typeof failed }).rows;
      [files.empty, files.short, files.failing] = await Promise.all([
        report(emptyConfig, empty.path('report.html')),
        report(shortConfig, short.path('report.html')),
        report(failingConfig, failing.path('report.html')),
      ]);
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-dev-shm-usage',
          '--disable-background-networking',
          '--disable-component-update',
          '--no-first-run',
        ],
      });
    }, 240_000);
    afterAll(async () => {
      await browser?.close();
      for (const ws of [empty, short, failing]) ws.remove();
    });

    /** Opens a report and waits until its charts are drawn; `requests` collects anything fetched. */
    async function open(file: string, requests: string[] = []): Promise<Page> {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1800 } });
      page.on('request', (request) => {
        if (!request.url().startsWith('file:')) requests.push(request.url());
      });
      await page.goto(`file://${file}`);
      await page.waitForFunction(() => document.body.dataset.rendered === 'true', undefined, { timeout: 20_000 });
      return page;
    }

    it('needs no server and no network: the chart library is inline, nothing is fetched', () => {
      const html = readFileSync(files.failing, 'utf8');
      expect(html).toContain('Chart.js v4');
      expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|<img[^>]+src=/);
    });

    it('an empty warehouse says so in words, with the command to run, and draws no empty chart', async () => {
      const page = await open(files.empty);
      await expect(page.getByText('No events loaded yet: run `aetl run`.').first().isVisible()).resolves.toBe(true);
      expect(await page.locator('canvas').count()).toBe(0);
      expect(await page.locator('#runs').textContent()).toBe('No runs in this range.');
      expect(await page.locator('#failing').textContent()).toContain('No failing checks in this range.');
      expect(await page.locator('body').textContent()).not.toContain('insufficient_history');
      await page.close();
    });

    it('anomaly checks short of history say how many more days they need; nothing is failing', async () => {
      const page = await open(files.short);
      const notice = page.getByText(/^Anomaly checks need/);
      expect(await notice.isVisible()).toBe(true);
      // The newest hour judged had one earlier day loaded: MIN_TRAINING − 1 more days.
      expect(await notice.textContent()).toContain(
        `Anomaly checks need ${MIN_TRAINING - 1} more days of history (insufficient_history)`,
      );
      expect(await notice.textContent()).toContain(`had 1 of the ${MIN_TRAINING} hour_of_day training buckets`);
      expect(await page.locator('#failing').textContent()).toContain('No failing checks in this range.');
      expect(await page.locator('canvas').count()).toBe(CHARTS.length);
      await page.close();
    });

    it('failing checks come first, each linked to its results; every chart renders; a screenshot is kept', async () => {
      const requests: string[] = [];
      const page = await open(files.failing, requests);
      const checks = [...new Set(failed.map((f) => f.check_name))];
      expect(checks).toContain('completeness');
      const links = page.locator('#failing li a');
      expect(await links.allTextContents()).toEqual([...checks].sort());
      for (const check of checks) {
        const own = failed.filter((f) => f.check_name === check);
        const item = page.locator('#failing li', { has: page.locator(`a:text-is("${check}")`) });
        const itemText = (await item.textContent())!;
        expect(own.some((f) => itemText.includes(f.message))).toBe(true);
        // The link resolves to the element holding this check's results: one table row per result.
        const href = (await item.locator('a').getAttribute('href'))!;
        const target = await page.evaluate((id) => {
          const element = document.getElementById(id);
          return (
            element && {
              rows: [...element.querySelectorAll('tbody tr')].map((r) => r.textContent),
              text: element.textContent,
            }
          );
        }, href.slice(1));
        expect(target, href).not.toBeNull();
        expect(target!.rows).toHaveLength(own.length);
        for (const f of own) expect(target!.rows.some((r) => r!.includes(f.message))).toBe(true);
        for (const run of new Set(own.map((f) => f.run_id))) expect(target!.text).toContain(`aetl runs show ${run}`);
      }
      const painted = await page.evaluate(
        (ids) =>
          ids.map((id) => {
            const canvas = document.getElementById(id) as HTMLCanvasElement;
            const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
            let inked = 0;
            for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) inked++;
            return { id, width: canvas.width, height: canvas.height, inked };
          }),
        CHARTS,
      );
      for (const chart of painted) {
        expect(chart.width, chart.id).toBeGreaterThan(100);
        expect(chart.height, chart.id).toBeGreaterThan(100);
        expect(chart.inked, `${chart.id} drew nothing`).toBeGreaterThan(500);
      }
      expect(requests).toEqual([]);
      mkdirSync(join(REPO, 'test-results'), { recursive: true });
      await page.screenshot({ path: join(REPO, 'test-results', 'report.png'), fullPage: true });
      await page.close();
    });
  },
);

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aetl } from '../helpers/cli.js';
import { REPO, Workspace } from '../helpers/workspace.js';

/** Debian's Chromium, as .ci/run installs it (never a browser download). */
const CHROMIUM = '/usr/bin/chromium';
const NOW = '2026-06-10T06:00:00Z';
const CHARTS = ['daily-volume', 'hourly-volume', 'block-rate', 'cost', 'latency', 'runs'];
if (!existsSync(CHROMIUM)) console.info(`report: skipped (no ${CHROMIUM}; .ci/run installs Debian's chromium)`);

describe.skipIf(!existsSync(CHROMIUM))(
  'aetl report: one self-contained HTML file, rendered in headless Chromium',
  () => {
    const ws = new Workspace();
    let browser: Browser;
    let html = '';
    const file = ws.path('report.html');

    beforeAll(async () => {
      // A source that loses 5% of what it counts: the completeness check fails (the injected failure).
      const config = ws.writeConfig({
        source: { kind: 'simulator', simulator: { seed: 12, rate_per_minute: 4, faults: { lost_share: 0.05 } } },
      });
      const run = await aetl(['run', '--config', config], { AETL_NOW: NOW });
      expect(run.code, run.stderr).toBe(3);
      const report = await aetl(['report', '--days', '2', '--out', file, '--config', config], { AETL_NOW: NOW });
      expect(report.code, report.stderr).toBe(0);
      expect(report.stdout).toContain(file);
      html = readFileSync(file, 'utf8');
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
    }, 120_000);
    afterAll(async () => {
      await browser?.close();
      ws.remove();
    });

    it('needs no server and no network: the chart library is inline, nothing is fetched', () => {
      expect(html).toContain('Chart.js v4');
      expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|<img[^>]+src=/);
    });

    it('every chart renders (a painted canvas) and the check table lists the injected failure; a screenshot is kept', async () => {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1800 } });
      const requests: string[] = [];
      page.on('request', (request) => {
        if (!request.url().startsWith('file:')) requests.push(request.url());
      });
      await page.goto(`file://${file}`);
      await page.waitForFunction(() => document.body.dataset.rendered === 'true', undefined, { timeout: 20_000 });
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
      const rows = await page.locator('#checks tbody tr').allTextContents();
      expect(rows.some((r) => r.includes('fail') && r.includes('completeness'))).toBe(true);
      expect(requests).toEqual([]);
      mkdirSync(join(REPO, 'test-results'), { recursive: true });
      await page.screenshot({ path: join(REPO, 'test-results', 'report.png'), fullPage: true });
      await page.close();
    });
  },
);

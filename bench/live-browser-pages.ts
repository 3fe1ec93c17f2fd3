/**
 * A few real deployment pages in Chromium (playwright-core, Debian's /usr/bin/chromium) for the live-update
 * benchmark: each page is the dashboard's own `/deployments/:id` with its own EventSource, and an init script notes
 * when each `update` reached the page's JavaScript (the page's own listener applies it right after). What each page
 * heard comes back in the node readers' shape (bench/live-readers.ts), so both are measured the same way.
 *
 * @example
 * const pages = await openBrowserPages(`${hub}/deployments/${id}`, 3);
 * await pages.ready();
 * const results = await pages.close(30_000); // ReaderResult[], once every page heard the end
 */
import type { Page } from 'playwright-core';
import { noteUpdate, type ReaderResult } from './live-readers.js';

/** Chromium, headless, as the dashboard's browser tests start it. */
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/**
 * Wraps EventSource before the page's script makes one: a listener added in the constructor runs before the page's
 * own. It runs again after the page reloads itself (which it does once the deployment is final).
 */
const INIT_SCRIPT = `(() => {
  const Native = window.EventSource;
  if (!Native) return;
  window.EventSource = class extends Native {
    constructor(url, init) {
      super(url, init);
      this.addEventListener('update', (ev) => window.benchLiveUpdate(performance.timeOrigin + performance.now(), ev.lastEventId, ev.data));
    }
  };
})();`;

export interface BrowserPages {
  count: number;
  /** Resolves once every page's stream is open (its status line says it is live). */
  ready(): Promise<void>;
  /** Closes the browser once every page heard the deployment's final update (or after `waitMs`); what each page heard. */
  close(waitMs: number): Promise<ReaderResult[]>;
}

export async function openBrowserPages(url: string, count: number, executablePath = process.env.BENCH_CHROMIUM ?? '/usr/bin/chromium'): Promise<BrowserPages> {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
  const results: ReaderResult[] = [];
  try {
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    const pages: Page[] = [];
    for (let i = 0; i < count; i++) {
      const result: ReaderResult = { events: [], firstSeen: {}, ended: false };
      results.push(result);
      const page = await context.newPage();
      await page.exposeFunction('benchLiveUpdate', (at: number, id: string, data: string) => {
        const update = JSON.parse(data) as { html: string; final: boolean };
        noteUpdate(result, at, id, update.html);
        if (update.final) result.ended = true;
      });
      await page.addInitScript(INIT_SCRIPT);
      await page.goto(url);
      pages.push(page);
    }
    return {
      count,
      async ready() {
        await Promise.all(pages.map((p) => p.locator('#live-status', { hasText: 'Live' }).waitFor({ timeout: 30_000 })));
      },
      async close(waitMs) {
        // The pages may hear the end after the node readers (the benchmark asks them first): wait for it.
        for (const giveUpAt = Date.now() + waitMs; results.some((r) => !r.ended) && Date.now() < giveUpAt; ) await new Promise((r) => setTimeout(r, 50));
        await browser.close();
        return results;
      },
    };
  } catch (err) {
    await browser.close();
    throw err;
  }
}

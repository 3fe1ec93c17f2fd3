/**
 * Debian's Chromium through playwright-core, for the dashboard's browser tests and `npm run screenshots`: found, or
 * installed with apt-get when run as root on Debian (a fresh machine), never downloaded (the tests must not reach the
 * internet), launched headless with no network of its own (no sync, no component updates, no QUIC).
 *
 * @example
 * const browser = await launchChromium("the agents page's browser test");
 * const { page } = await openFresh(browser, `${hub.url}/agents`, { javaScriptEnabled: false });
 */
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { ensureCommand } from './ensure-command.js';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** `purpose` names what needs the browser, for the message when Chromium cannot be had. */
export async function launchChromium(purpose: string): Promise<Browser> {
  const executablePath = await ensureCommand({ command: 'chromium', paths: ['/usr/bin/chromium'], debianPackage: 'chromium', purpose });
  return chromium.launch({ executablePath, args: CHROMIUM_ARGS });
}

/** The viewport the tests use unless they say otherwise. */
export const DESKTOP = { width: 1200, height: 900 };

/**
 * A fresh browser profile (no cookie from an earlier page) with one page, opened at `url` when one is given. The
 * caller closes the context.
 */
export async function openFresh(browser: Browser, url?: string, options: BrowserContextOptions = {}): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: DESKTOP, ...options });
  const page = await context.newPage();
  if (url) await page.goto(url);
  return { context, page };
}

// Debian's Chromium driven by playwright-core for the console's browser tests and bench/ui.ts: launch with
// the flags this environment needs, sign in with an API key, save screenshots under test-artifacts/.

import { mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Where screenshots go: test-artifacts/ (git-ignored), or VIGIL_SCREENSHOTS_DIR (e.g. /tmp/shots/). */
export const ARTIFACTS_DIR = process.env.VIGIL_SCREENSHOTS_DIR ? `${process.env.VIGIL_SCREENSHOTS_DIR.replace(/\/$/, '')}/` : new URL('../../test-artifacts/', import.meta.url).pathname;

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.VIGIL_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** Opens the console at `baseUrl` and signs in with the API key through the login page. */
export async function signInWithApiKey(page: Page, baseUrl: string, apiKey: string): Promise<void> {
  await page.goto(`${baseUrl}/`);
  await page.getByRole('tab', { name: 'API key' }).click();
  await page.getByRole('textbox', { name: 'API key' }).fill(apiKey);
  await page.getByRole('button', { name: 'Sign in with API key' }).click();
  await page.getByRole('navigation', { name: 'Pages' }).waitFor();
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  await page.evaluate('window.scrollTo(0, 0)'); // a fixed header would otherwise be drawn mid-page
  await page.screenshot({ path: `${ARTIFACTS_DIR}${name}.png`, fullPage: true });
}

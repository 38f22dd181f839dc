// The scenario runner: options, the browser, screenshots, waiting for pages, and
// failing with a clear message.
//
// A scenario is `runScenario('name', async (s) => { ... })`, where `s` is a
// `Scenario`: `s.page` is the Playwright page, `s.goto(path, step)` and
// `s.submit(selector, step)` navigate and take a full-page screenshot named
// `NN-<scenario>-<step>.png` in the artifacts folder, `s.expectVisible` asserts an
// element of the page contract. `s.press(key, step)` navigates with the keyboard,
// `s.expectFocused`, `s.setViewport` and `s.expectNoHorizontalScroll` check what a
// keyboard or small-screen user meets. On any failure a last screenshot
// (`NN-<scenario>-failure.png`) and the page's HTML are saved, the message names
// the page and what it showed, and the process exits with status 1.
//
// Options (command line, else environment):
//   --base-url URL        RG_BASE_URL       the gateway, exactly http://localhost:PORT
//   --artifacts DIR       RG_ARTIFACTS      screenshots and HTML go here (created)
//   --username NAME       RG_USERNAME       the test account
//   --password PASS       RG_PASSWORD       its current password
//   --new-password PASS   RG_NEW_PASSWORD   the password the reset sets (has a default)
//   --help-desk TEXT      RG_HELP_DESK      the gateway's reset.help_desk (scenario "refusal")
//   CHROMIUM_PATH (env)   the browser (default /usr/bin/chromium)
//   RG_HEADED=1 (env)     show the browser window (debugging on a desktop)

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { chromium } from 'playwright-core';

/** How long one navigation (a click that loads a page) may take. */
export const NAV_TIMEOUT_MS = 20_000;
/** How long an element of the page contract may take to appear once the page loaded. */
export const ELEMENT_TIMEOUT_MS = 5_000;
/** The whole scenario's budget; the Rust side kills the process a bit later. */
const SCENARIO_TIMEOUT_MS = 150_000;

const DEFAULT_NEW_PASSWORD = 'lantern harbour juniper sixty bicycles';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];

/** Elements that say why a page is not the one expected (the page contract's ids). */
const STATUS_IDS = ['#error', '#notice', '#password-errors', '#refused', '#too-many', '#expired'];

/** A failure of the scenario itself (as opposed to a crash of the harness). */
export class ScenarioError extends Error {}

/** Throws a `ScenarioError` with `message` unless `condition` holds. */
export function check(condition, message) {
  if (!condition) throw new ScenarioError(message);
}

function readOptions() {
  const { values } = parseArgs({
    options: {
      'base-url': { type: 'string' },
      artifacts: { type: 'string' },
      username: { type: 'string' },
      password: { type: 'string' },
      'new-password': { type: 'string' },
      'help-desk': { type: 'string' },
    },
    strict: true,
  });
  const env = process.env;
  const options = {
    baseUrl: values['base-url'] ?? env.RG_BASE_URL,
    artifacts: values.artifacts ?? env.RG_ARTIFACTS,
    username: values.username ?? env.RG_USERNAME,
    password: values.password ?? env.RG_PASSWORD,
    newPassword: values['new-password'] ?? env.RG_NEW_PASSWORD ?? DEFAULT_NEW_PASSWORD,
    helpDesk: values['help-desk'] ?? env.RG_HELP_DESK,
    chromiumPath: env.CHROMIUM_PATH || '/usr/bin/chromium',
    headed: env.RG_HEADED === '1',
  };
  const missing = [
    ['baseUrl', '--base-url / RG_BASE_URL'],
    ['artifacts', '--artifacts / RG_ARTIFACTS'],
    ['username', '--username / RG_USERNAME'],
    ['password', '--password / RG_PASSWORD'],
  ].filter(([key]) => !options[key]);
  if (missing.length > 0) {
    throw new ScenarioError(`missing option(s): ${missing.map(([, flag]) => flag).join(', ')}`);
  }
  // WebAuthn's relying party id is the host of server.public_url, and the browser
  // only offers credentials on that origin: the pages must be visited there.
  const url = new URL(options.baseUrl);
  check(
    url.protocol === 'http:' && url.hostname === 'localhost' && url.port !== '' &&
      url.pathname === '/' && !url.search && !url.hash,
    `--base-url must be exactly http://localhost:PORT (the gateway's server.public_url), got ${options.baseUrl}`,
  );
  options.baseUrl = url.origin;
  return options;
}

/** One run of one scenario: the page, the screenshots, the waiting. */
export class Scenario {
  constructor(name, options, browser, context, page) {
    this.name = name;
    this.options = options;
    this.browser = browser;
    this.context = context;
    this.page = page;
    this.shots = 0;
    this.marks = 0;
    this.browserLog = [];
  }

  /** Prints a progress line (the Rust test shows it when the scenario fails). */
  log(message) {
    const elapsed = ((Date.now() - this.started) / 1000).toFixed(1).padStart(5);
    console.log(`[${this.name} ${elapsed}s] ${message}`);
  }

  /** The absolute URL of a path on the gateway. */
  url(path) {
    return new URL(path, this.options.baseUrl).href;
  }

  /** The path (and query) of the current page. */
  path() {
    const url = new URL(this.page.url());
    return url.pathname + url.search;
  }

  /** A full-page screenshot `NN-<scenario>-<step>.png`; returns its path. */
  async shot(step) {
    this.shots += 1;
    const base = `${String(this.shots).padStart(2, '0')}-${this.name}-${step}`;
    const file = join(this.options.artifacts, `${base}.png`);
    await this.page.screenshot({ path: file, fullPage: true });
    this.log(`screenshot ${base}.png (${this.path()})`);
    return file;
  }

  /** Loads `path` and takes the screenshot `step`. */
  async goto(path, step) {
    this.log(`GET ${path}`);
    let response;
    try {
      response = await this.page.goto(this.url(path), { waitUntil: 'load', timeout: NAV_TIMEOUT_MS });
    } catch (err) {
      throw new ScenarioError(`GET ${this.url(path)} failed: ${String(err.message).split('\n')[0]}`);
    }
    await this.shot(step);
    check(response !== null && response.status() < 500, `GET ${path} answered ${response?.status()}`);
    return response;
  }

  /**
   * Clicks `selector` and waits until the next page has loaded (a form post and
   * its redirect, or page script that submits a form), or until the current page
   * shows a new `#error` in place; then takes the screenshot `step`.
   */
  async submit(selector, step, { timeout = NAV_TIMEOUT_MS } = {}) {
    await this.expectVisible(selector);
    await this.navigate(`click ${selector}`, () => this.page.locator(selector).click(), step, {
      timeout,
      doing: `clicking ${selector}`,
    });
  }

  /**
   * Presses `key` (e.g. `Enter` in a form field: no mouse) and waits for the next
   * page as `submit` does; then takes the screenshot `step`.
   */
  async press(key, step, { timeout = NAV_TIMEOUT_MS } = {}) {
    const on = await this.describeFocus();
    await this.navigate(`press ${key} on ${on}`, () => this.page.keyboard.press(key), step, {
      timeout,
      doing: `pressing ${key} on ${on}`,
    });
  }

  /**
   * Runs `action` (logged as `what`; `doing` names it in the failure message) and
   * waits until the next page has loaded, or until the current page shows a new
   * `#error` in place; then takes the screenshot `step`.
   */
  async navigate(what, action, step, { timeout = NAV_TIMEOUT_MS, doing = what } = {}) {
    const page = this.page;
    this.marks += 1;
    const mark = `${this.name}-${this.marks}`;
    const errorBefore = await page.evaluate((m) => {
      window.__resetgateMark = m;
      return document.querySelector('#error')?.textContent.trim() ?? '';
    }, mark);
    this.log(what);
    await action();
    try {
      await page.waitForFunction(
        ([m, before]) => {
          if (window.__resetgateMark !== m) return document.readyState !== 'loading';
          const error = document.querySelector('#error');
          const text = error && error.checkVisibility() ? error.textContent.trim() : '';
          return text !== '' && text !== before;
        },
        [mark, errorBefore],
        { timeout, polling: 100 },
      );
      await page.waitForLoadState('load', { timeout });
    } catch (err) {
      if (!/Timeout/i.test(String(err))) throw err;
      throw new ScenarioError(
        `after ${doing} on ${this.path()} no page loaded within ${timeout / 1000}s` + (await this.statusSummary()),
      );
    }
    await this.shot(step);
  }

  /**
   * Clicks `selector` expecting the page to stay (e.g. the browser's own form
   * validation stops the submission): fails when a page loads within `waitMs`.
   * Takes the screenshot `step`.
   */
  async clickExpectingNoNavigation(selector, step, { waitMs = 1_500 } = {}) {
    const page = this.page;
    await this.expectVisible(selector);
    this.marks += 1;
    const mark = `${this.name}-${this.marks}`;
    const before = this.path();
    await page.evaluate((m) => {
      window.__resetgateMark = m;
    }, mark);
    this.log(`click ${selector} (expecting the page to stay)`);
    await page.locator(selector).click();
    await page.waitForTimeout(waitMs);
    const stayed = await page.evaluate((m) => window.__resetgateMark === m, mark).catch(() => false);
    check(
      stayed,
      `clicking ${selector} on ${before} loaded ${this.path()}, expected the page to stay` + (await this.statusSummary()),
    );
    await this.shot(step);
  }

  /** The HTTP status the current page was served with (Navigation Timing). */
  async status() {
    return this.page.evaluate(() => performance.getEntriesByType('navigation')[0]?.responseStatus ?? 0);
  }

  /** Resizes the viewport (CSS pixels). */
  async setViewport(width, height) {
    this.log(`viewport ${width}x${height}`);
    await this.page.setViewportSize({ width, height });
  }

  /** Fails when the page scrolls sideways at the current viewport width. */
  async expectNoHorizontalScroll(what) {
    const { scrollWidth, innerWidth, wide } = await this.page.evaluate(() => {
      const limit = window.innerWidth;
      // The elements sticking out on the right, for the failure message.
      const wide = [...document.body.querySelectorAll('*')]
        .filter((el) => el.getBoundingClientRect().right > limit + 0.5)
        .slice(0, 5)
        .map((el) => {
          const id = el.id ? `#${el.id}` : '';
          const cls = typeof el.className === 'string' && el.className ? `.${el.className.split(' ').join('.')}` : '';
          return `${el.tagName.toLowerCase()}${id}${cls} (right edge ${Math.round(el.getBoundingClientRect().right)})`;
        });
      return { scrollWidth: document.documentElement.scrollWidth, innerWidth: limit, wide };
    });
    check(
      scrollWidth <= innerWidth,
      `${what} scrolls sideways: scrollWidth ${scrollWidth} > innerWidth ${innerWidth}` +
        (wide.length > 0 ? `; wider than the viewport: ${wide.join(', ')}` : ''),
    );
    this.log(`${what}: no horizontal scrolling (scrollWidth ${scrollWidth} <= innerWidth ${innerWidth})`);
  }

  /** The focused element as `tag#id.class "text"` (for logs and messages). */
  async describeFocus() {
    return this.page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return 'the page (nothing focused)';
      const id = el.id ? `#${el.id}` : '';
      const cls = el.className && typeof el.className === 'string' ? `.${el.className.split(' ').join('.')}` : '';
      const text = (el.innerText ?? '').trim().replace(/\s+/g, ' ').slice(0, 40);
      return `${el.tagName.toLowerCase()}${id}${cls}${text ? ` "${text}"` : ''}`;
    });
  }

  /** Whether the focused element matches `selector`. */
  async isFocused(selector) {
    return this.page.evaluate((sel) => document.activeElement?.matches(sel) ?? false, selector);
  }

  /** Waits (briefly) until `selector` has the focus; fails naming what has it instead. */
  async expectFocused(selector, what = selector) {
    try {
      await this.page.waitForFunction((sel) => document.activeElement?.matches(sel) ?? false, selector, {
        timeout: ELEMENT_TIMEOUT_MS,
        polling: 100,
      });
    } catch (err) {
      if (!/Timeout/i.test(String(err))) throw err;
      throw new ScenarioError(`expected ${what} to have the focus on ${this.path()}, but ${await this.describeFocus()} has it`);
    }
  }

  /** The text a person sees: the title and the body's rendered text. */
  async visibleText() {
    return `${await this.page.title()}\n${await this.page.locator('body').innerText()}`;
  }

  /** Fills the input `selector` with `value`. */
  async fill(selector, value) {
    await this.expectVisible(selector);
    await this.page.locator(selector).fill(value);
  }

  /** The trimmed text of `selector`, or `null` when the page has no such element. */
  async text(selector) {
    const locator = this.page.locator(selector);
    if ((await locator.count()) === 0) return null;
    return (await locator.first().innerText()).trim();
  }

  /** Whether the page has a visible `selector` right now. */
  async isVisible(selector) {
    return this.page.locator(selector).first().isVisible();
  }

  /**
   * Waits for a visible `selector` (a short while: the page has loaded already);
   * fails naming the page and what its status elements say.
   */
  async expectVisible(selector, what = selector) {
    try {
      await this.page.locator(selector).first().waitFor({ state: 'visible', timeout: ELEMENT_TIMEOUT_MS });
    } catch (err) {
      if (!/Timeout/i.test(String(err))) throw err;
      throw new ScenarioError(`expected ${what} on ${this.path()}, but it is not there` + (await this.statusSummary()));
    }
  }

  /** Waits for `selector` to be in the page, shown or not (e.g. a list that may be empty). */
  async expectPresent(selector, what = selector) {
    try {
      await this.page.locator(selector).first().waitFor({ state: 'attached', timeout: ELEMENT_TIMEOUT_MS });
    } catch (err) {
      if (!/Timeout/i.test(String(err))) throw err;
      throw new ScenarioError(`expected ${what} on ${this.path()}, but it is not there` + (await this.statusSummary()));
    }
  }

  /** Whether the page has `selector` right now, shown or not. */
  async isPresent(selector) {
    return (await this.page.locator(selector).count()) > 0;
  }

  /** Fails unless the current page's path is `expected` (query ignored). */
  expectPath(expected) {
    const actual = new URL(this.page.url()).pathname;
    check(actual === expected, `expected to be on ${expected}, but the browser is on ${this.path()}`);
  }

  /** What the page's status elements say, for failure messages (empty when none). */
  async statusSummary() {
    const lines = [];
    try {
      lines.push(`page: ${this.path()} (title ${JSON.stringify(await this.page.title())})`);
      for (const id of STATUS_IDS) {
        const text = await this.text(id);
        if (text) lines.push(`${id}: ${text.replace(/\s+/g, ' ')}`);
      }
    } catch (err) {
      lines.push(`(the page could not be read: ${err.message})`);
    }
    return `\n  ${lines.join('\n  ')}`;
  }

  /** Saves the failure screenshot and the page's HTML; never throws. */
  async saveFailure() {
    const saved = [];
    try {
      saved.push(await this.shot('failure'));
    } catch (err) {
      console.error(`(no failure screenshot: ${err.message})`);
    }
    try {
      const file = join(this.options.artifacts, `${String(this.shots).padStart(2, '0')}-${this.name}-failure.html`);
      writeFileSync(file, await this.page.content());
      saved.push(file);
    } catch (err) {
      console.error(`(no failure HTML: ${err.message})`);
    }
    return saved;
  }
}

/**
 * Runs `body(scenario)` in a fresh headless Chromium and exits: 0 when it
 * returned, 1 with the message and a failure screenshot when anything threw.
 */
export async function runScenario(name, body) {
  let options;
  try {
    options = readOptions();
  } catch (err) {
    console.error(`FAIL ${name}: ${err.message}`);
    console.error(`usage: node ${name}.mjs --base-url http://localhost:PORT --artifacts DIR --username NAME --password PASS [--new-password PASS]`);
    process.exit(2);
  }
  mkdirSync(options.artifacts, { recursive: true });

  let browser;
  let scenario;
  let failed = false;
  const watchdog = setTimeout(() => {
    console.error(`FAIL ${name}: the scenario ran over ${SCENARIO_TIMEOUT_MS / 1000}s`);
    process.exit(1);
  }, SCENARIO_TIMEOUT_MS);
  try {
    browser = await launch(options);
    const context = await browser.newContext({ viewport: { width: 1024, height: 768 } });
    const page = await context.newPage();
    page.setDefaultTimeout(NAV_TIMEOUT_MS);
    scenario = new Scenario(name, options, browser, context, page);
    scenario.started = Date.now();
    page.on('console', (msg) => {
      if (['error', 'warning'].includes(msg.type()) && !msg.text().startsWith('Failed to load resource')) scenario.browserLog.push(`console.${msg.type()}: ${msg.text()}`);
    });
    page.on('pageerror', (err) => scenario.browserLog.push(`page error: ${err.message}`));
    page.on('response', async (response) => {
      const url = new URL(response.url());
      if (response.status() < 400 || url.pathname === '/favicon.ico') return;
      const request = response.request();
      // The Origin a POST carried: the gateway refuses a foreign one (CSRF check).
      const origin = request.method() === 'POST' ? await request.headerValue('origin').catch(() => null) : null;
      scenario.browserLog.push(
        `HTTP ${response.status()} ${request.method()} ${url.pathname}${url.search}` + (origin ? ` (Origin: ${origin})` : ''),
      );
    });
    scenario.log(`${options.baseUrl} as ${options.username}; screenshots in ${options.artifacts}`);
    await body(scenario);
    scenario.log('PASS');
  } catch (err) {
    failed = true;
    const message = err instanceof ScenarioError ? err.message : err.stack ?? String(err);
    console.error(`FAIL ${name}: ${message}`);
    if (scenario) {
      const saved = await scenario.saveFailure();
      for (const file of saved) console.error(`  saved ${file}`);
      if (scenario.browserLog.length > 0) {
        console.error(`  browser console:\n    ${scenario.browserLog.join('\n    ')}`);
      }
    }
  } finally {
    clearTimeout(watchdog);
    await browser?.close().catch(() => {});
  }
  process.exit(failed ? 1 : 0);
}

async function launch(options) {
  try {
    return await chromium.launch({
      executablePath: options.chromiumPath,
      headless: !options.headed,
      args: options.headed ? CHROMIUM_ARGS.filter((arg) => arg !== '--headless') : CHROMIUM_ARGS,
      timeout: 30_000,
    });
  } catch (err) {
    throw new ScenarioError(
      `cannot start Chromium at ${options.chromiumPath} (set CHROMIUM_PATH, or run .ci/run / apt-get install chromium): ${err.message}`,
    );
  }
}

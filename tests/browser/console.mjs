// Scenario "console": an administrator signs in at /admin with a password and
// an authenticator-app code, reads the overview (the decisions chart and the
// score histogram drawn as SVG by the server, the top reasons, the recent
// high-risk attempts, the webhook table), labels an attempt a confirmed
// attack, then edits the risk policy: a
// broken edit is refused with its line and changes nothing, a good one goes
// live, and signing out ends the console session.
//
//   RG_ADMIN_TOTP_SECRET=BASE32 node tests/browser/console.mjs --base-url http://localhost:PORT \
//     --artifacts DIR --username ADMIN --password PASS

import { check, runScenario, ScenarioError } from './lib/harness.mjs';
import { base32Decode, stepAt, totpCode } from './lib/totp.mjs';

await runScenario('console', async (s) => {
  const { username, password } = s.options;
  const secretText = process.env.RG_ADMIN_TOTP_SECRET;
  if (!secretText) throw new ScenarioError('missing RG_ADMIN_TOTP_SECRET (the administrator\'s TOTP secret)');
  const secret = base32Decode(secretText);

  // Sign-in: a wrong code is refused, the right one lets in.
  await s.goto('/admin', 'sign-in');
  await s.expectVisible('#admin-login-form', 'the sign-in form #admin-login-form');
  await s.fill('#admin-username', username);
  await s.fill('#admin-password', password);
  await s.fill('#admin-code', totpCode(secret, stepAt() + 5));
  await s.submit('#admin-login-submit', 'sign-in-refused');
  const refused = await s.text('#error');
  check(/not right/i.test(refused), `a wrong code: #error says ${JSON.stringify(refused)}`);
  await s.fill('#admin-password', password);
  await s.fill('#admin-code', totpCode(secret, stepAt()));
  await s.submit('#admin-login-submit', 'overview');
  s.expectPath('/admin');

  // The overview: charts drawn by the server, tables, the risky attempts.
  for (const id of ['#decisions-chart', '#score-chart', '#top-reasons', '#top-countries', '#top-networks', '#recent-risky']) {
    await s.expectVisible(id, id);
  }
  for (const chart of ['#decisions-chart', '#score-chart']) {
    const rects = await s.page.locator(`${chart} svg rect`).count();
    check(rects > 2, `${chart} draws no bars (${rects} rect elements)`);
    const label = await s.page.locator(`${chart} [role=img]`).getAttribute('aria-label');
    check(label && /\d/.test(label), `${chart} has no text alternative with its figures: ${JSON.stringify(label)}`);
  }
  const summary = await s.text('#summary');
  check(/\d+ decisions/.test(summary), `#summary says ${JSON.stringify(summary)}`);
  const risky = await s.page.locator('#recent-risky > li').count();
  check(risky > 0, 'no recent high-risk attempt is listed');
  const firstRisky = await s.text('#recent-risky > li');
  check(/account_attempts_1h/.test(firstRisky), `the risky attempt shows no reason code: ${JSON.stringify(firstRisky)}`);
  const reasons = await s.text('#top-reasons');
  check(/account_attempts_1h/.test(reasons), `#top-reasons: ${JSON.stringify(reasons)}`);

  // An analyst marks the newest risky attempt as a confirmed attack.
  const seq = await s.page.locator('#recent-risky > li').first().getAttribute('data-seq');
  await s.submit(`#recent-risky > li[data-seq="${seq}"] button.label-attack`, 'labelled');
  check(/label saved/i.test(await s.text('#notice')), 'labelling says nothing');
  const labelled = await s.text(`#recent-risky > li[data-seq="${seq}"] .label`);
  check(/confirmed attack by/i.test(labelled), `the attempt's label reads ${JSON.stringify(labelled)}`);

  // The policy editor: a broken edit names its line and changes nothing.
  await s.goto('/admin/policy', 'policy');
  const live = await s.text('#live-version');
  const original = await s.page.inputValue('#policy-text');
  check(original.includes('[levels]'), 'the editor does not hold the live policy');
  const broken = original.replace(/^high = \d+$/m, 'high = 0');
  check(broken !== original, 'the live policy has no "high = N" line to edit');
  const brokenLine = broken.split('\n').findIndex((l) => l === 'high = 0') + 1;
  await s.page.fill('#policy-text', broken);
  await s.submit('#policy-check', 'policy-refused');
  const error = await s.text('#error');
  check(error.startsWith(`${brokenLine}:`) && /levels\.high/.test(error), `the refusal does not name line ${brokenLine}: ${JSON.stringify(error)}`);
  await s.expectVisible('#error-line', 'the refused line #error-line');
  check((await s.text('#live-version')) === live, 'a refused policy changed the live version');
  check((await s.page.inputValue('#policy-text')) === broken, 'the editor lost what was typed');

  // A good edit is checked, then saved and live.
  const good = original.replace(/^deny = \d+$/m, 'deny = 95');
  check(good !== original, 'the live policy has no "deny = N" line to edit');
  await s.page.fill('#policy-text', good);
  await s.submit('#policy-check', 'policy-checked');
  const checked = await s.text('#notice');
  check(/valid/i.test(checked), `Check on a good policy says ${JSON.stringify(checked)}`);
  await s.fill('#policy-comment', 'deny from 95');
  await s.submit('#policy-activate', 'policy-live');
  const notice = await s.text('#notice');
  check(/live/i.test(notice), `saving says ${JSON.stringify(notice)}`);
  const now = await s.text('#live-version');
  check(now !== live, `the live version did not change: ${now}`);
  check((await s.page.inputValue('#policy-text')).includes('deny = 95'), 'the editor does not show the new live policy');
  const rows = await s.page.locator('#policy-versions tbody tr').count();
  check(rows >= 2, `the versions table has ${rows} rows`);

  // On a small screen, then sign out.
  await s.setViewport(375, 800);
  await s.goto('/admin', 'overview-375');
  await s.submit('#admin-logout', 'signed-out');
  await s.expectVisible('#admin-login-form', 'the sign-in form after signing out');
  s.log('console: signed in, overview drawn, policy refused with its line, then made live, signed out');
});

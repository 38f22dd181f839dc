// Steps on the gateway's pages, by the element ids of the page contract
// (README "Browser tests"): sign in and out on /enroll, the factor list, and the
// reset journey from / to /reset/done. Each step takes its screenshots and fails
// with a `ScenarioError` naming what the page showed instead.

import { check } from './harness.mjs';
import { base32Decode, stepAt, totpCode } from './totp.mjs';

/** The factor kinds the reset page may offer, as in `#choose-<factor>`. */
export const FACTORS = ['webauthn', 'totp', 'sms', 'email'];

/** Signs in on /enroll and expects the factor list. */
export async function signIn(s, username, password, step = 'signed-in') {
  await s.goto('/enroll', 'enroll-sign-in');
  await s.fill('#login-username', username);
  await s.fill('#login-password', password);
  await s.submit('#login-submit', step);
  await s.expectPresent('#factor-list', `the factor list (signed in as ${username})`);
}

/** Tries to sign in on /enroll with a wrong password and expects a refusal. */
export async function expectSignInRefused(s, username, password, step = 'sign-in-refused') {
  await s.goto('/enroll', 'enroll-sign-in');
  await s.fill('#login-username', username);
  await s.fill('#login-password', password);
  await s.submit('#login-submit', step);
  check(
    !(await s.isPresent('#factor-list')),
    `signing in as ${username} with the old password succeeded (the factor list is shown on ${s.path()})`,
  );
  await s.expectVisible('#error', 'an #error saying the sign-in failed');
  await s.expectVisible('#login-form', 'the sign-in form again');
  s.log(`sign-in refused: ${await s.text('#error')}`);
}

/** Signs out with `#logout` and checks that /enroll asks to sign in again. */
export async function signOut(s) {
  await s.submit('#logout', 'signed-out');
  await s.goto('/enroll', 'enroll-after-sign-out');
  await s.expectVisible('#login-form', 'the sign-in form after signing out');
  check(!(await s.isPresent('#factor-list')), 'the factor list is still shown after signing out');
}

/** The factor list's entries: `[{ factor, text }]`. */
export async function factorEntries(s) {
  return s.page.locator('#factor-list li.factor').evaluateAll((items) =>
    items.map((li) => ({ factor: li.dataset.factor, text: li.textContent.replace(/\s+/g, ' ').trim() })),
  );
}

/**
 * Expects the factor list to show a `kind` entry (whose text contains `name`,
 * when given). After an enrolment the page may land elsewhere: when it shows no
 * factor list, /enroll is loaded to look.
 */
export async function expectFactorListed(s, kind, name) {
  if (!(await s.isPresent('#factor-list'))) {
    s.log(`no factor list on ${s.path()}; loading /enroll`);
    await s.goto('/enroll', 'enroll-factors');
  }
  await s.expectPresent('#factor-list', 'the factor list');
  const entries = await factorEntries(s);
  const found = entries.find((entry) => entry.factor === kind && (name === undefined || entry.text.includes(name)));
  const wanted = name === undefined ? kind : `${kind} named ${JSON.stringify(name)}`;
  check(found, `the factor list shows no ${wanted}; it has ${JSON.stringify(entries)}` + (await s.statusSummary()));
  s.log(`factor list: ${entries.map((entry) => `${entry.factor} (${entry.text})`).join('; ')}`);
  return found;
}

/** Starts a reset on / and expects the challenge page; returns the factors offered. */
export async function startReset(s, username) {
  await s.goto('/', 'start');
  await s.fill('#username', username);
  await s.submit('#start-submit', 'challenge');
  s.expectPath('/reset');
  for (const id of ['#refused', '#too-many', '#expired']) {
    check(!(await s.isVisible(id)), `the reset was not offered a challenge (${id})` + (await s.statusSummary()));
  }
  const offered = [];
  for (const factor of FACTORS) {
    if (await s.isVisible(`#choose-${factor}`)) offered.push(factor);
  }
  check(offered.length > 0, 'the challenge page offers no factor (no #choose-*)' + (await s.statusSummary()));
  s.log(`factors offered: ${offered.join(', ')}`);
  return offered;
}

/** Chooses `factor` on the challenge page and expects its code page. */
export async function chooseFactor(s, factor) {
  await s.submit(`#choose-${factor}`, `${factor}-page`);
  s.expectPath('/reset/code');
}

/** Expects the new-password form: every factor the reset asked for has passed. */
export async function expectPasswordForm(s) {
  await s.expectVisible('#password-form', 'the new-password form (all factors passed)');
  s.expectPath('/reset');
}

/** Sets the new password and expects /reset/done. */
export async function setNewPassword(s, password) {
  await expectPasswordForm(s);
  await s.fill('#new-password', password);
  await s.fill('#confirm-password', password);
  await s.submit('#password-submit', 'done');
  const reasons = await s.text('#password-errors');
  check(!reasons, `the new password was rejected: ${reasons}`);
  await s.expectVisible('#done', 'the confirmation #done');
  s.expectPath('/reset/done');
  s.log(`done: ${(await s.text('#done'))?.replace(/\s+/g, ' ')}`);
}

/** After a reset: the old password no longer signs in, the new one does. */
export async function expectPasswordChanged(s, username, oldPassword, newPassword) {
  await expectSignInRefused(s, username, oldPassword, 'old-password-refused');
  await signIn(s, username, newPassword, 'new-password-signed-in');
}

/**
 * Enrols an authenticator app: signs in on /enroll, adds TOTP, reads the secret
 * under the QR code, confirms with a code and signs out. Returns the secret's
 * bytes and the time step the confirmation used (the gateway accepts each step
 * once per account).
 */
export async function enrollTotp(s, username, password) {
  await signIn(s, username, password);
  await s.submit('#totp-add-submit', 'totp-setup');
  await s.expectVisible('#totp-qr', 'the QR code figure #totp-qr');
  const shown = await s.text('#totp-secret');
  check(shown, 'the setup page shows no #totp-secret');
  const secret = base32Decode(shown.replace(/\s+/g, ''));
  const step = stepAt();
  await s.fill('#totp-code', totpCode(secret, step));
  await s.submit('#totp-verify-submit', 'totp-enrolled');
  await expectFactorListed(s, 'totp');
  await signOut(s);
  return { secret, step };
}

/**
 * Expects a message page: the `<section id="section">` shown, and the `#error`
 * above it. Returns `{ error, text }` (whitespace collapsed).
 */
export async function expectMessage(s, section, what = `#${section}`) {
  await s.expectVisible(`#${section}`, what);
  await s.expectVisible('#error', `the #error above ${what}`);
  const error = (await s.text('#error')).replace(/\s+/g, ' ');
  const text = (await s.text(`#${section}`)).replace(/\s+/g, ' ');
  s.log(`#${section} (HTTP ${await s.status()}): ${error} | ${text}`);
  return { error, text };
}

/** Expects the message page's "Start again" link (`#start-again`, to `/`). */
export async function expectStartAgainLink(s) {
  await s.expectVisible('#start-again', 'the "Start again" link #start-again');
  const link = s.page.locator('#start-again');
  const text = (await link.innerText()).trim();
  const href = await link.getAttribute('href');
  check(text === 'Start again', `#start-again says ${JSON.stringify(text)}, expected "Start again"`);
  check(href === '/', `#start-again goes to ${JSON.stringify(href)}, expected "/"`);
}

/**
 * The entries of `#password-errors`, each checked to be a sentence for a person
 * (a capital first, a full stop last, no machine code like `too_short`).
 */
export async function passwordErrors(s) {
  await s.expectVisible('#password-errors', 'the list of reasons #password-errors');
  const items = await s.page
    .locator('#password-errors li')
    .evaluateAll((lis) => lis.map((li) => li.textContent.replace(/\s+/g, ' ').trim()));
  check(items.length > 0, '#password-errors lists nothing');
  for (const item of items) {
    check(
      /^[A-Z]/.test(item) && /[.!]$/.test(item) && !/\b[a-z]+_[a-z_]+\b/.test(item) && item.split(' ').length >= 3,
      `#password-errors has ${JSON.stringify(item)}, which is not a sentence for a person`,
    );
  }
  s.log(`#password-errors: ${items.map((item) => JSON.stringify(item)).join(', ')}`);
  return items;
}

// Scenario "messages": the pages a person sees when things go wrong, and the
// pages as a keyboard or small-screen user meets them.
//
// In order: /reset without a reset in progress (back to /), and with a flow
// cookie the gateway does not know (#expired, "Start again"); an authenticator
// app enrolled on /enroll; the start page at 320x640 without sideways scrolling;
// the start page by keyboard only (autofocus, the skip link, Tab, Enter); the
// challenge page at 320x640; a wrong code (#error with the tries left, the
// #code field focused and described by the error); new passwords the browser and
// then the gateway refuse (#password-errors in sentences), then a good one; and
// a second reset whose five wrong codes end on #too-many, which says when to try
// again. Every page is screenshotted.
//
//   node tests/browser/messages.mjs --base-url http://localhost:PORT \
//     --artifacts DIR --username NAME --password PASS [--new-password PASS]

import { check, runScenario } from './lib/harness.mjs';
import {
  chooseFactor,
  enrollTotp,
  expectMessage,
  expectPasswordForm,
  expectStartAgainLink,
  passwordErrors,
  startReset,
} from './lib/pages.mjs';
import { stepAt, totpCode, waitForStepAfter, wrongCode } from './lib/totp.mjs';

/** `reset.max_attempts_per_flow` of the gateway (its default). */
const MAX_ATTEMPTS = 5;
/** Below `password.min_length` (15): the form's `minlength` stops it. */
const SHORT_PASSWORD = 'Short-pw-1';
/** 15 characters: long enough, but "password" plus digits is a common password. */
const COMMON_PASSWORD = 'password1234567';
const NARROW = { width: 320, height: 640 };
const DESKTOP = { width: 1024, height: 768 };

await runScenario('messages', async (s) => {
  const { username, password, newPassword } = s.options;
  const page = s.page;

  // --- Expiry: no reset in progress, then an unknown one -------------------
  await s.goto('/reset', 'no-flow');
  s.expectPath('/');
  await s.expectVisible('#start-form', 'the start form (GET /reset without a reset goes to /)');
  s.log('GET /reset without rg_flow went to /');

  await s.context.addCookies([{ name: 'rg_flow', value: 'bogus-flow-id-0123456789abcdef', url: s.options.baseUrl }]);
  const expired = await s.goto('/reset', 'expired');
  s.expectPath('/reset');
  const gone = await expectMessage(s, 'expired', 'the expired page #expired');
  check(/expired/i.test(gone.error), `#error on the expired page says ${JSON.stringify(gone.error)}`);
  check(expired.status() === 410, `the expired page answered ${expired.status()}, expected 410 Gone`);
  await expectStartAgainLink(s);
  await s.expectFocused('#start-again', 'the "Start again" link (autofocus)');
  await s.press('Enter', 'expired-start-again');
  s.expectPath('/');
  await s.expectVisible('#start-form', 'the start form after "Start again"');
  await s.context.clearCookies();

  // --- An authenticator app, so that resets get as far as the code page -----
  const totp = await enrollTotp(s, username, password);

  // --- The start page on a small screen -------------------------------------
  await s.setViewport(NARROW.width, NARROW.height);
  await s.goto('/', 'start-320');
  await s.expectVisible('#username', 'the username field at 320 px');
  await s.expectVisible('#start-submit', 'the Continue button at 320 px');
  await s.expectNoHorizontalScroll('the start page at 320x640');
  await s.setViewport(DESKTOP.width, DESKTOP.height);

  // --- The start page by keyboard only --------------------------------------
  await s.goto('/', 'keyboard-start');
  await s.expectFocused('#username', 'the username field (autofocus)');
  // Back to the top of the tab order: the skip link comes first.
  const order = [await s.describeFocus()];
  for (let i = 0; i < 5 && !(await s.isFocused('a.skip')); i += 1) {
    await page.keyboard.press('Shift+Tab');
    order.push(await s.describeFocus());
  }
  check(await s.isFocused('a.skip'), `Shift+Tab from the username never reached the skip link; focus went ${order.join(' -> ')}`);
  s.log(`tab order back to the top: ${order.join(' <- ')}`);
  const skip = await page.locator('a.skip').boundingBox();
  check(
    skip && skip.x >= 0 && skip.y >= 0 && skip.x + skip.width <= DESKTOP.width,
    `the focused skip link is off-screen (box ${JSON.stringify(skip)})`,
  );
  await s.shot('keyboard-skip-link');
  await page.keyboard.press('Enter');
  await s.expectFocused('#main', 'the main region after following the skip link');
  await page.keyboard.press('Tab');
  await s.expectFocused('#username', 'the username field, first Tab stop in the main region');
  await page.keyboard.type(username);
  await s.press('Enter', 'keyboard-challenge');
  s.expectPath('/reset');
  await s.expectVisible('#choose-totp', 'the TOTP choice on the challenge page');
  for (const id of ['#refused', '#too-many', '#expired']) {
    check(!(await s.isVisible(id)), `the keyboard-started reset was not offered a challenge (${id})` + (await s.statusSummary()));
  }

  // --- The challenge page on a small screen ---------------------------------
  await s.setViewport(NARROW.width, NARROW.height);
  await s.shot('challenge-320');
  await s.expectNoHorizontalScroll('the challenge page at 320x640');
  await s.setViewport(DESKTOP.width, DESKTOP.height);

  // --- A wrong code ---------------------------------------------------------
  const first = await s.page.locator('.choices button').first().getAttribute('id');
  await s.expectFocused(`#${first}`, `the first choice #${first} (autofocus)`);
  for (let i = 0; i < 5 && !(await s.isFocused('#choose-totp')); i += 1) await page.keyboard.press('Tab');
  await s.expectFocused('#choose-totp', 'the TOTP choice, reached with Tab');
  await s.press('Enter', 'totp-page');
  s.expectPath('/reset/code');
  await s.expectFocused('#code', 'the code field (autofocus)');
  await page.keyboard.type(wrongCode(totp.secret));
  await s.press('Enter', 'wrong-code');
  await expectWrongCode(s, MAX_ATTEMPTS - 1);

  // The right code (from a later time step than enrolment's), then passwords.
  if (stepAt() <= totp.step) s.log('waiting for the next 30 s time step (each step counts once)');
  const step = await waitForStepAfter(totp.step);
  await s.fill('#code', totpCode(totp.secret, step));
  await s.submit('#code-submit', 'code-accepted');
  await expectPasswordForm(s);

  // --- Rejected new passwords -----------------------------------------------
  // Too short: the browser itself refuses to send the form (minlength).
  await s.fill('#new-password', SHORT_PASSWORD);
  await s.fill('#confirm-password', SHORT_PASSWORD);
  await s.clickExpectingNoNavigation('#password-submit', 'password-too-short-browser');
  const native = await page.locator('#new-password').evaluate((el) => ({
    tooShort: el.validity.tooShort,
    message: el.validationMessage,
  }));
  check(native.tooShort, `the browser let a ${SHORT_PASSWORD.length}-character password through (#new-password minlength)`);
  s.log(`the browser stopped the form: ${JSON.stringify(native.message)}`);

  // The same without the browser's check (an old browser, a form filler): the
  // gateway says it in a sentence.
  await page.locator('#password-form').evaluate((form) => {
    form.noValidate = true;
  });
  await s.submit('#password-submit', 'password-too-short');
  await expectPasswordRejected(s, /at least 15 characters/i, 'too short');

  // Common: long enough, but "password" and digits.
  await s.fill('#new-password', COMMON_PASSWORD);
  await s.fill('#confirm-password', COMMON_PASSWORD);
  await s.submit('#password-submit', 'password-common');
  await expectPasswordRejected(s, /common/i, 'common');

  // A good passphrase goes through (from the rejection page, as a person goes on).
  await s.fill('#new-password', newPassword);
  await s.fill('#confirm-password', newPassword);
  await s.submit('#password-submit', 'done');
  const still = await s.text('#password-errors');
  check(!still, `the good passphrase was rejected too: ${still}`);
  await s.expectVisible('#done', 'the confirmation #done');
  s.expectPath('/reset/done');
  s.log(`done: ${(await s.text('#done'))?.replace(/\s+/g, ' ')}`);

  // --- Too many wrong codes --------------------------------------------------
  const offered = await startReset(s, username);
  check(offered.includes('totp'), `the second reset does not offer TOTP (offers ${offered.join(', ')})`);
  await chooseFactor(s, 'totp');
  for (let n = 1; n <= MAX_ATTEMPTS; n += 1) {
    await s.fill('#code', wrongCode(totp.secret));
    await s.submit('#code-submit', n < MAX_ATTEMPTS ? `wrong-code-${n}-of-${MAX_ATTEMPTS}` : 'too-many');
    if (n < MAX_ATTEMPTS) await expectWrongCode(s, MAX_ATTEMPTS - n);
  }
  const tooMany = await expectMessage(s, 'too-many', 'the too-many-tries page #too-many');
  check(/too many/i.test(tooMany.error), `#error on the too-many page says ${JSON.stringify(tooMany.error)}`);
  check(
    /try again in (a minute|about \d+ (minutes|hours))/i.test(tooMany.text),
    `#too-many does not say when to try again: ${JSON.stringify(tooMany.text)}`,
  );
  const tooManyStatus = await s.status();
  check(tooManyStatus === 429, `the too-many page answered ${tooManyStatus}, expected 429`);
  await expectStartAgainLink(s);
  check(!(await s.isPresent('#code-form')), 'the too-many page still shows the code form');

  // The locked reset stays locked.
  await s.goto('/reset', 'too-many-again');
  await expectMessage(s, 'too-many', 'the too-many page on GET /reset of the locked reset');
  await s.submit('#start-again', 'too-many-start-again');
  s.expectPath('/');
});

/** Expects the code page again with "That code isn't right. N tries left." */
async function expectWrongCode(s, left) {
  // The answer to POST /reset/verify, shown in place.
  s.expectPath('/reset/verify');
  await s.expectVisible('#error', 'an #error saying the code is wrong');
  const error = (await s.text('#error')).replace(/\s+/g, ' ');
  check(/code isn't right/i.test(error), `#error after a wrong code says ${JSON.stringify(error)}`);
  const tries = error.match(/(\d+) (tries|try) left/);
  check(tries, `#error after a wrong code does not say how many tries are left: ${JSON.stringify(error)}`);
  check(Number(tries[1]) === left, `#error says ${tries[1]} ${tries[2]} left, expected ${left}`);
  const status = await s.status();
  check(status === 400, `the wrong-code page answered ${status}, expected 400`);
  await s.expectVisible('#code-form', 'the code form, to try again');
  const field = await s.page.locator('#code').evaluate((el) => ({
    describedBy: (el.getAttribute('aria-describedby') ?? '').split(/\s+/),
    invalid: el.getAttribute('aria-invalid'),
    role: document.querySelector('#error')?.getAttribute('role'),
  }));
  check(field.describedBy.includes('error'), `#code is not described by #error (aria-describedby="${field.describedBy.join(' ')}")`);
  check(field.invalid === 'true', `#code has aria-invalid=${JSON.stringify(field.invalid)}, expected "true"`);
  check(field.role === 'alert', `#error has role=${JSON.stringify(field.role)}, expected "alert"`);
  await s.expectFocused('#code', 'the code field after a wrong code');
  s.log(`wrong code: ${error} (HTTP ${status}; #code focused, aria-describedby="${field.describedBy.join(' ')}", aria-invalid)`);
}

/** Expects the new-password form again, `#password-errors` matching `reason`. */
async function expectPasswordRejected(s, reason, what) {
  s.expectPath('/reset/complete');
  await s.expectVisible('#password-form', `the new-password form again (${what} password)`);
  const status = await s.status();
  check(status === 422, `the rejected-password page answered ${status}, expected 422`);
  const error = await s.text('#error');
  check(error, `no #error above the form after a ${what} password`);
  const reasons = await passwordErrors(s);
  check(
    reasons.some((r) => reason.test(r)),
    `#password-errors after a ${what} password does not say ${reason}: ${JSON.stringify(reasons)}`,
  );
  const describedBy = ((await s.page.locator('#new-password').getAttribute('aria-describedby')) ?? '').split(/\s+/);
  check(
    describedBy.includes('password-errors'),
    `#new-password is not described by #password-errors (aria-describedby="${describedBy.join(' ')}")`,
  );
  await s.expectFocused('#new-password', 'the new-password field after a rejection');
  s.log(`${what} password refused: ${error} (HTTP ${status})`);
}

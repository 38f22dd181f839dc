// Scenario "totp": enrol an authenticator app on /enroll, then reset the password
// with a code from it.
//
// The scenario is the authenticator app: it reads the secret the setup page shows
// under the QR code and computes RFC 6238 codes (lib/totp.mjs). The gateway accepts
// each time step once per account, and enrolment used the current one, so the
// reset waits for the next step before it asks for a code, as a person would.
//
//   node tests/browser/totp.mjs --base-url http://localhost:PORT \
//     --artifacts DIR --username NAME --password PASS [--new-password PASS]

import { check, runScenario } from './lib/harness.mjs';
import {
  chooseFactor,
  expectFactorListed,
  expectPasswordChanged,
  setNewPassword,
  signIn,
  signOut,
  startReset,
} from './lib/pages.mjs';
import { base32Decode, stepAt, totpCode, waitForStepAfter } from './lib/totp.mjs';

await runScenario('totp', async (s) => {
  const { username, password, newPassword } = s.options;

  // Enrol: sign in, add TOTP, scan (read) the secret, confirm with a code.
  await signIn(s, username, password);
  await s.submit('#totp-add-submit', 'setup');
  await s.expectVisible('#totp-qr', 'the QR code figure #totp-qr');
  const qr = await s.page.locator('#totp-qr').locator('svg, img, canvas').count();
  check(qr > 0, '#totp-qr holds no picture (svg, img or canvas)');
  const shown = await s.text('#totp-secret');
  check(shown, 'the setup page shows no #totp-secret');
  const secret = base32Decode(shown.replace(/\s+/g, ''));
  check(secret.length >= 16, `the TOTP secret has ${secret.length * 8} bits, RFC 4226 asks for at least 128`);
  const enrolStep = stepAt();
  await s.fill('#totp-code', totpCode(secret, enrolStep));
  await s.submit('#totp-verify-submit', 'enrolled');
  await expectFactorListed(s, 'totp');
  await signOut(s);

  // Reset: a code from a later time step than the one enrolment used.
  const offered = await startReset(s, username);
  check(offered.includes('totp'), `the challenge page does not offer TOTP (offers ${offered.join(', ')})`);
  await chooseFactor(s, 'totp');
  await s.expectVisible('#code-form', 'the code form');
  if (stepAt() <= enrolStep) s.log('waiting for the next 30 s time step (each step counts once)');
  const resetStep = await waitForStepAfter(enrolStep);
  await s.fill('#code', totpCode(secret, resetStep));
  await s.submit('#code-submit', 'code-accepted');
  await setNewPassword(s, newPassword);

  // The new password is the one that works now.
  await expectPasswordChanged(s, username, password, newPassword);
  await expectFactorListed(s, 'totp');
});

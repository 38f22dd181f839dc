// Scenario "passkey": enrol a passkey on /enroll, then reset the password with it.
//
// Chromium's virtual authenticator (DevTools protocol, WebAuthn domain) stands in
// for the platform authenticator: a CTAP2 "internal" device with resident keys and
// user verification that says yes by itself, so navigator.credentials.create()
// and .get() in the pages' own script run the real ceremonies against the gateway.
//
//   node tests/browser/passkey.mjs --base-url http://localhost:PORT \
//     --artifacts DIR --username NAME --password PASS [--new-password PASS]

import { check, runScenario } from './lib/harness.mjs';
import {
  chooseFactor,
  expectFactorListed,
  expectPasswordChanged,
  expectPasswordForm,
  setNewPassword,
  signIn,
  signOut,
  startReset,
} from './lib/pages.mjs';

const PASSKEY_NAME = 'Test laptop';

await runScenario('passkey', async (s) => {
  const { username, password, newPassword } = s.options;

  const cdp = await s.page.context().newCDPSession(s.page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  const credentials = async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;

  // Enrol: sign in with the current password and add a passkey.
  await signIn(s, username, password);
  await s.fill('#webauthn-name', PASSKEY_NAME);
  await s.submit('#webauthn-add', 'webauthn-added');
  await expectFactorListed(s, 'webauthn', PASSKEY_NAME);
  const created = await credentials();
  check(created.length === 1, `the authenticator holds ${created.length} credentials after enrolment, expected 1`);
  check(created[0].rpId === 'localhost', `the passkey's RP id is ${created[0].rpId}, expected localhost`);
  const signCountBefore = created[0].signCount;
  s.log(`authenticator: 1 credential for rp ${created[0].rpId} (resident: ${created[0].isResidentCredential})`);
  await signOut(s);

  // Reset: the passkey answers the challenge.
  const offered = await startReset(s, username);
  check(offered.includes('webauthn'), `the challenge page does not offer the passkey (offers ${offered.join(', ')})`);
  await chooseFactor(s, 'webauthn');
  await s.submit('#webauthn-start', 'webauthn-verified');
  await expectPasswordForm(s);
  const used = await credentials();
  check(
    used.length === 1 && used[0].signCount > signCountBefore,
    `the authenticator was not asked to sign (sign count ${signCountBefore} -> ${used[0]?.signCount})`,
  );
  await setNewPassword(s, newPassword);

  // The new password is the one that works now.
  await expectPasswordChanged(s, username, password, newPassword);
  await expectFactorListed(s, 'webauthn', PASSKEY_NAME);
});

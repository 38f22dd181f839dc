// Scenario "refusal": a reset the risk policy refuses. Run against a gateway
// whose policy denies every attempt: the page after the start shows #refused
// with the gateway's `reset.help_desk` text, offers no way to verify, and never
// says why (no score, risk, reason, level or policy). Also at 320x640, without
// sideways scrolling.
//
//   node tests/browser/refusal.mjs --base-url http://localhost:PORT \
//     --artifacts DIR --username NAME --password PASS --help-desk TEXT

import { check, runScenario, ScenarioError } from './lib/harness.mjs';
import { expectMessage, FACTORS } from './lib/pages.mjs';

/** Words that would tell why a reset was refused; the page must say none. */
const WHY_WORDS = /\b(score[sd]?|risk[sy]?|reasons?|levels?|polic(y|ies))\b/gi;

await runScenario('refusal', async (s) => {
  const { username, helpDesk } = s.options;
  if (!helpDesk) throw new ScenarioError('missing option --help-desk / RG_HELP_DESK (the gateway\'s reset.help_desk)');

  await s.goto('/', 'start');
  await s.fill('#username', username);
  await s.submit('#start-submit', 'refused');
  s.expectPath('/reset');
  await expectRefused(s, helpDesk);

  // Loading the page again shows the same: the refusal is the reset's state.
  await s.goto('/reset', 'refused-again');
  await expectRefused(s, helpDesk);

  // On a small screen.
  await s.setViewport(320, 640);
  await s.shot('refused-320');
  await s.expectNoHorizontalScroll('the refused page at 320x640');
});

async function expectRefused(s, helpDesk) {
  const { error, text } = await expectMessage(s, 'refused', 'the refusal #refused');
  check(/can't reset your password online/i.test(error), `#error on the refused page says ${JSON.stringify(error)}`);
  check(text.includes(helpDesk), `#refused does not show the help desk text ${JSON.stringify(helpDesk)}: ${JSON.stringify(text)}`);
  for (const factor of FACTORS) {
    check(!(await s.isPresent(`#choose-${factor}`)), `the refused page still offers #choose-${factor}`);
  }
  check(!(await s.isPresent('#code-form')), 'the refused page shows a code form');
  const seen = await s.visibleText();
  const why = [...new Set([...seen.matchAll(WHY_WORDS)].map((m) => m[0]))];
  check(why.length === 0, `the refused page says why it refused (${why.join(', ')}): ${JSON.stringify(seen.replace(/\s+/g, ' '))}`);
  s.log('the refused page names the help desk and gives no reason');
}

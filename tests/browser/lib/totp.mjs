// RFC 6238 TOTP as an authenticator app computes it: HMAC-SHA-1, 30-second
// steps, 6 digits (RFC 4226 dynamic truncation), from a base32 secret (RFC 4648).

import { createHmac } from 'node:crypto';

/** Seconds per time step. */
export const STEP_SECONDS = 30;

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** The bytes of a base32 secret; spaces, dashes, padding and case are ignored. */
export function base32Decode(text) {
  const clean = text.replace(/[\s=-]/g, '').toUpperCase();
  if (clean === '') throw new Error('the TOTP secret is empty');
  let bits = 0;
  let value = 0;
  const out = [];
  for (const char of clean) {
    const index = BASE32.indexOf(char);
    if (index < 0) throw new Error(`the TOTP secret is not base32: unexpected ${JSON.stringify(char)}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

/** The time step containing `unixMillis` (default: now). */
export function stepAt(unixMillis = Date.now()) {
  return Math.floor(unixMillis / 1000 / STEP_SECONDS);
}

/** The 6-digit code of time step `step` for the secret's bytes. */
export function totpCode(secret, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', secret).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 1_000_000).padStart(6, '0');
}

/** Waits until the clock is in a step after `step`; returns the step it reached. */
export async function waitForStepAfter(step) {
  for (;;) {
    const now = Date.now();
    const current = stepAt(now);
    if (current > step) return current;
    const nextBegins = (step + 1) * STEP_SECONDS * 1000;
    await new Promise((resolve) => setTimeout(resolve, nextBegins - now + 50));
  }
}

/**
 * A 6-digit code that is not the code of any step within `window` steps of
 * `step` (default: now), so no clock drift allowance can accept it.
 */
export function wrongCode(secret, step = stepAt(), window = 2) {
  const near = new Set();
  for (let s = step - window; s <= step + window; s += 1) near.add(totpCode(secret, s));
  for (let n = 0; ; n += 1) {
    const candidate = String((Number(totpCode(secret, step)) + 111_111 * (n + 1)) % 1_000_000).padStart(6, '0');
    if (!near.has(candidate)) return candidate;
  }
}

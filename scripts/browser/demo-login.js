// Drives Chromium through latchkey's demo: /demo, sign in with the keyboard
// only, approve consent, back on /demo with a verified ID token. Fails on any
// console error (CSP violations are reported there), page error or failed
// request; saves a screenshot of every page. Run by scripts/browser-test.
'use strict';

const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const base = process.env.LATCHKEY_BASE;
const username = process.env.LATCHKEY_DEMO_USER;
const password = process.env.LATCHKEY_DEMO_PASSWORD;
const shots = process.env.SCREENSHOT_DIR;
const profile = process.env.CHROMIUM_PROFILE;
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';

function fail(message) {
  throw new Error(message);
}

async function main() {
  if (!base || !username || !password || !shots || !profile) fail('missing environment (see scripts/browser-test)');
  fs.mkdirSync(shots, { recursive: true });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    viewport: { width: 1100, height: 800 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  const problems = [];
  const page = context.pages()[0] || (await context.newPage());
  page.on('console', (msg) => {
    // The failed login answers 401 on purpose; the browser logs that status.
    const expected = page.url().includes('/login') && /status of 401/.test(msg.text());
    if ((msg.type() === 'error' || msg.type() === 'warning') && !expected) problems.push(`console ${msg.type()}: ${msg.text()} (${page.url()})`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()} ${request.failure() && request.failure().errorText}`));
  page.on('response', (response) => {
    if (response.status() >= 400 && !(response.url().includes('/login') && response.status() === 401)) {
      problems.push(`HTTP ${response.status()} for ${response.url()}`);
    }
  });
  let shot = 0;
  const screenshot = async (name) => {
    shot += 1;
    const file = path.join(shots, `${String(shot).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    console.log(`screenshot ${file}`);
  };

  // 1. The demo relying party.
  await page.goto(`${base}/demo`);
  await page.getByRole('heading', { name: 'latchkey demo' }).waitFor();
  await screenshot('demo');
  await page.getByRole('link', { name: 'Sign in with latchkey' }).click();

  // 2. The login page, keyboard only: the user name field has focus.
  await page.waitForURL(/\/login\?/);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await screenshot('login');
  const focused = () => page.evaluate(() => document.activeElement && document.activeElement.id);
  if ((await focused()) !== 'username') fail(`the user name field is not focused on load (focus: ${await focused()})`);
  await page.keyboard.type(username);
  await page.keyboard.press('Tab');
  if ((await focused()) !== 'password') fail(`Tab did not move to the password field (focus: ${await focused()})`);
  await page.keyboard.type('not the password');
  await page.keyboard.press('Enter');
  await page.locator('#login-error').waitFor();
  await screenshot('login-error');
  // After a failure the name is kept and the password field has focus.
  if ((await focused()) !== 'password') fail(`the password field is not focused after a failed login (focus: ${await focused()})`);
  await page.keyboard.type(password);
  await page.keyboard.press('Enter');

  // 3. Consent.
  await page.waitForURL(/\/consent\?/);
  await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
  await screenshot('consent');
  await page.getByRole('button', { name: 'Allow' }).click();

  // 4. Back at the demo with the tokens decoded.
  await page.waitForURL(/\/demo\?/);
  await page.getByText('ID token verified').waitFor();
  const claims = await page.locator('pre').nth(1).innerText();
  const decoded = JSON.parse(claims);
  if (decoded.iss !== base) fail(`ID token iss is ${decoded.iss}, not ${base}`);
  if (decoded.aud !== 'latchkey-demo' && !(Array.isArray(decoded.aud) && decoded.aud.includes('latchkey-demo'))) fail(`ID token aud is ${JSON.stringify(decoded.aud)}`);
  if (!decoded.sub || !decoded.nonce) fail(`ID token lacks sub or nonce: ${claims}`);
  await screenshot('signed-in');

  await context.close();
  if (problems.length) fail(`the browser reported problems:\n  ${problems.join('\n  ')}`);
  console.log(`browser test passed: signed in as ${username}, ID token for ${decoded.sub} verified`);
}

main().catch((err) => {
  console.error(`browser test FAILED: ${err.message}`);
  process.exit(1);
});

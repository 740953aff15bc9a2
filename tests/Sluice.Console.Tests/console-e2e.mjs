// Drives the web console in Debian's headless Chromium through playwright-core, as a person would: signs in with a
// token once, clicks through topics, a topic (partitions, subscriptions, seek, produce, live tail, delayed messages),
// webhooks (pause, resume) and replicators (stop, start), and takes a screenshot of each main page. Prints one JSON
// object on stdout: the checks that passed, the screenshots, and any error the pages raised. Any failed check throws
// (exit code 1) with what the page showed.
//
// Usage: node console-e2e.mjs '<json>' with baseUrl, token, topic, subscription, webhookId, replicator (or null),
// delayedId (or null), artifacts (a directory), userDataDir (a fresh directory).
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const config = JSON.parse(process.argv[2]);
const timeout = 30_000;
const checks = [];
const screenshots = {};
const pageErrors = [];
mkdirSync(config.artifacts, { recursive: true });

const context = await chromium.launchPersistentContext(config.userDataDir, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  // Without the background-networking flags Chromium calls out at start, which this machine's closed network refuses.
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
  viewport: { width: 1280, height: 900 },
});

function check(name, condition, detail) {
  if (!condition) {
    throw new Error(`check failed: ${name}${detail ? ': ' + detail : ''}`);
  }
  checks.push(name);
}

async function shot(page, name) {
  const path = join(config.artifacts, `${name}.png`);
  await page.screenshot({ path });
  screenshots[name] = path;
}

async function api(method, path, body, headers = {}) {
  const response = await fetch(config.baseUrl + path, {
    method,
    headers: { Authorization: `Bearer ${config.token}`, ...headers },
    body,
  });
  const text = await response.text();
  if (!response.ok) {
    throw new Error(`${method} ${path}: HTTP ${response.status} ${text}`);
  }
  return text ? JSON.parse(text) : null;
}

const topicPath = '/v1/topics/' + config.topic;

// Authentication off: no sign-in, and the page's own requests (a POST and a stream included) pass the gateway's host and
// origin checks as same-origin requests.
async function openGateway(page) {
  await page.goto(config.baseUrl + '/');
  const row = page.locator(`#topics-table tr[data-topic="${config.topic}"]`);
  await row.waitFor();
  check('no sign-in while authentication is off', (await page.locator('#login').count()) === 0);
  check('the bar says authentication is off', (await page.textContent('#who')) === 'authentication off');
  await row.locator('a.topic-link').click();
  await page.click('#tail-toggle');
  await page.waitForSelector('#tail-status .badge.ok');
  await page.fill('#produce-value', 'same origin');
  await page.click('#produce-send');
  await page.waitForFunction(() => document.querySelector('#produce-result').textContent.startsWith('Produced'));
  await page.waitForFunction(() => [...document.querySelectorAll('#tail-rows .tail-value')].some((c) => c.textContent === 'same origin'));
  checks.push('a produce from the console is streamed back to it');
  await shot(page, 'open-topic');
}
let page;
try {
  page = context.pages()[0] ?? await context.newPage();
  page.setDefaultTimeout(timeout);
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  page.on('console', (message) => {
    // Chromium logs every answer that is not 2xx as "Failed to load resource"; the API's refusals (the wrong token,
    // a route this gateway lacks) are expected here and checked through what the page shows instead.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      pageErrors.push(message.text());
    }
  });

  // A blank page of the same size: the baseline the screenshots are compared with.
  await page.goto('about:blank');
  await shot(page, 'blank');

  if (config.open) {
    await openGateway(page);
    process.stdout.write(JSON.stringify({ checks, screenshots, pageErrors }) + '\n');
    process.exit(0);
  }

  // Sign in once.
  await page.goto(config.baseUrl + '/');
  await page.waitForSelector('#login');
  await shot(page, 'login');
  await page.fill('#token', 'not-a-token');
  await page.click('#sign-in');
  await page.waitForSelector('#login .error');
  check('a refused token is said so', /refused/i.test(await page.textContent('#login .error')));
  await page.fill('#token', config.token);
  await page.click('#sign-in');
  const row = page.locator(`#topics-table tr[data-topic="${config.topic}"]`);
  await row.waitFor();
  check('topics list the topic with its partitions', (await row.locator('td').nth(1).textContent()) === '2');
  check('topics count its messages', (await row.locator('td').nth(2).textContent()) === '3');
  await page.waitForFunction((topic) => !document.querySelector(`#topics-table tr[data-topic="${topic}"] td:nth-child(5)`).textContent.includes('…'), config.topic);
  check('the token is kept in session storage only', await page.evaluate(() => !!sessionStorage.getItem('sluice.console.token') && localStorage.length === 0));
  await shot(page, 'topics');

  // Entered once: a reload keeps the session.
  await page.reload();
  await row.waitFor();
  check('a reload stays signed in', (await page.locator('#login').count()) === 0);

  // The topic: partitions, subscriptions with lag.
  await row.locator('a.topic-link').click();
  await page.waitForSelector('#partitions-table');
  check('the topic page shows its partitions', (await page.locator('#partitions-table tbody tr').count()) === 2);
  const subscription = page.locator(`#subscriptions-table tr[data-subscription="${config.subscription}"]`);
  await subscription.waitFor();
  check('the subscription shows its lag', (await subscription.locator('td.lag').textContent()) === '3');

  // Live tail, then a message produced from the form and one produced meanwhile through the API.
  await page.click('#tail-toggle');
  await page.waitForSelector('#tail-status .badge.ok');
  await page.fill('#produce-key', 'console-key');
  await page.fill('#produce-value', 'hello from the console');
  await page.fill('#produce-headers', 'origin: console');
  await page.click('#produce-send');
  await page.waitForFunction(() => document.querySelector('#produce-result').textContent.startsWith('Produced'));
  await api('POST', `${topicPath}/messages?key=outside`, 'produced meanwhile', { 'Content-Type': 'text/plain' });
  await page.waitForFunction(() => [...document.querySelectorAll('#tail-rows .tail-value')].map((c) => c.textContent).includes('produced meanwhile'));
  const tailed = await page.locator('#tail-rows .tail-value').allTextContents();
  check('the live tail shows the message produced from the form', tailed.includes('hello from the console'), tailed.join(' | '));
  check('the live tail shows a message produced meanwhile', tailed.includes('produced meanwhile'), tailed.join(' | '));
  const fromForm = await api('GET', `${topicPath}/subscriptions/${config.subscription}`);
  check('both produces reached the topic', fromForm.partitions.reduce((s, p) => s + p.endOffset, 0) === 5);

  // Delayed messages pending.
  if (config.delayedId) {
    await page.waitForSelector('#delayed-count');
    check('delayed messages pending are counted', (await page.textContent('#delayed-count')).startsWith('1 pending'));
    check('the pending delayed message is listed', (await page.locator('#delayed-table').textContent()).includes(config.delayedId));
  } else {
    await page.waitForFunction(() => document.querySelector('#delayed').textContent.includes('no delayed messages API'));
    checks.push('no delayed messages API on this gateway: said so');
  }
  await shot(page, 'topic');

  // Seek to latest: the lag goes to 0.
  await page.waitForFunction((name) => document.querySelector(`#subscriptions-table tr[data-subscription="${name}"] td.lag`)?.textContent === '5', config.subscription);
  await subscription.locator('select.seek-position').selectOption('latest');
  await subscription.locator('form.seek button').click();
  await page.waitForFunction((name) => document.querySelector(`#subscriptions-table tr[data-subscription="${name}"] td.lag`)?.textContent === '0', config.subscription);
  const after = await api('GET', `${topicPath}/subscriptions/${config.subscription}`);
  check('seek to latest moved the cursor', after.partitions.every((p) => p.lag === 0));
  await page.click('#tail-toggle');

  // Webhooks: pause, resume.
  await page.click('#nav a[data-page="webhooks"]');
  const webhook = page.locator(`#webhooks-table tr[data-webhook="${config.webhookId}"]`);
  await webhook.waitFor();
  check('the webhook is listed running', (await webhook.locator('.webhook-state').textContent()) === 'running');
  await webhook.locator('button.webhook-toggle').click();
  await page.waitForFunction((id) => document.querySelector(`#webhooks-table tr[data-webhook="${id}"] .webhook-state`)?.textContent === 'paused', config.webhookId);
  check('pause is persisted', (await api('GET', `/v1/webhooks/${config.webhookId}`)).paused === true);
  await shot(page, 'webhooks');
  await webhook.locator('button.webhook-toggle').click();
  await page.waitForFunction((id) => document.querySelector(`#webhooks-table tr[data-webhook="${id}"] .webhook-state`)?.textContent === 'running', config.webhookId);
  check('resume is persisted', (await api('GET', `/v1/webhooks/${config.webhookId}`)).paused === false);

  // Replicators: stop, start.
  await page.click('#nav a[data-page="replicators"]');
  if (config.replicator) {
    const replicator = page.locator(`#replicators-table tr[data-replicator="${config.replicator}"]`);
    await replicator.waitFor();
    await page.waitForFunction((name) => document.querySelector(`#replicators-table tr[data-replicator="${name}"] button.replicator-toggle`)?.textContent === 'Stop', config.replicator);
    await replicator.locator('button.replicator-toggle').click();
    await page.waitForFunction((name) => document.querySelector(`#replicators-table tr[data-replicator="${name}"] .replicator-state`)?.textContent === 'stopped', config.replicator);
    check('stop is persisted', (await api('GET', `/v1/replicators/${config.replicator}/status`)).state === 'stopped');
    await shot(page, 'replicators');
    await replicator.locator('button.replicator-toggle').click();
    await page.waitForFunction((name) => document.querySelector(`#replicators-table tr[data-replicator="${name}"] .replicator-state`)?.textContent !== 'stopped', config.replicator);
    check('start is persisted', (await api('GET', `/v1/replicators/${config.replicator}/status`)).state !== 'stopped');
  } else {
    await page.waitForFunction(() => document.querySelector('#replicators').textContent.includes('no replicators API'));
    checks.push('no replicators API on this gateway: said so');
    await shot(page, 'replicators');
  }

  // Sign out: the token is gone.
  await page.click('#sign-out');
  await page.waitForSelector('#login');
  check('sign out forgets the token', await page.evaluate(() => sessionStorage.getItem('sluice.console.token') === null));

  process.stdout.write(JSON.stringify({ checks, screenshots, pageErrors }) + '\n');
} catch (error) {
  if (page) {
    try {
      await shot(page, 'failure');
      process.stderr.write('page text at failure:\n' + (await page.textContent('body')) + '\n');
    } catch {
      // the page is gone: nothing more to show
    }
  }
  process.stderr.write(String(error?.stack || error) + '\n');
  process.stderr.write(JSON.stringify({ checks, screenshots, pageErrors }) + '\n');
  process.exitCode = 1;
} finally {
  await context.close();
}

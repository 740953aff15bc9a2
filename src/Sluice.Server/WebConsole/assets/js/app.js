// The console's shell: asks /healthz whether authentication is on, asks for a token once when it is, and routes
// #/topics, #/topic/<tenant>/<namespace>/<name>, #/webhooks and #/replicators to their pages.
import { get, setToken, token, ApiError } from './api.js';
import { h, errorBox } from './dom.js';
import * as topics from './pages/topics.js';
import * as topic from './pages/topic.js';
import * as webhooks from './pages/webhooks.js';
import * as replicators from './pages/replicators.js';

const main = document.getElementById('main');
const who = document.getElementById('who');
const signOut = document.getElementById('sign-out');
let health = { auth: 'none' };
let cleanup = null;

const routes = [
  [/^#\/topics$/, () => topics],
  [/^#\/topic\/([^/]+)\/([^/]+)\/([^/]+)$/, () => topic],
  [/^#\/webhooks$/, () => webhooks],
  [/^#\/replicators$/, () => replicators],
];

function needsToken() {
  return health.auth !== 'none' && !token();
}

function showLogin(message) {
  stop();
  setNav(null);
  const input = h('textarea', { id: 'token', placeholder: 'eyJhbGciOi…', autocomplete: 'off', spellcheck: 'false', required: true });
  const form = h('form', {
    class: 'panel login', id: 'login',
    onsubmit: async (event) => {
      event.preventDefault();
      setToken(input.value.trim());
      try {
        await get('/v1/topics');
        render();
      } catch (error) {
        setToken(null);
        showLogin(error instanceof ApiError && error.status === 401 ? 'That token was refused: ' + error.message : error.message);
      }
    },
  },
  h('h1', {}, 'Sign in'),
  h('p', { class: 'muted' }, 'This gateway requires a bearer token (a JWT). It is kept in this tab only, until the tab is closed.'),
  message ? h('p', { class: 'error', role: 'alert' }, message) : null,
  h('label', {}, 'Token', input),
  h('p', {}, h('button', { type: 'submit', id: 'sign-in' }, 'Sign in')));
  main.replaceChildren(form);
  input.focus();
}

function setNav(page) {
  for (const link of document.querySelectorAll('#nav a')) {
    link.classList.toggle('active', link.dataset.page === page);
  }
  const signedIn = health.auth !== 'none' && !!token();
  signOut.hidden = !signedIn;
  who.textContent = health.auth === 'none' ? 'authentication off' : signedIn ? 'signed in' : '';
}

function stop() {
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
}

async function render() {
  stop();
  if (needsToken()) {
    showLogin();
    return;
  }
  const hash = location.hash || '#/topics';
  for (const [pattern, page] of routes) {
    const match = hash.match(pattern);
    if (!match) {
      continue;
    }
    const module = page();
    setNav(module.navName);
    const view = h('div', { class: 'page', id: 'page-' + module.navName });
    main.replaceChildren(view);
    try {
      cleanup = await module.render(view, match.slice(1).map(decodeURIComponent), { onUnauthorized });
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        onUnauthorized(error);
      } else {
        view.append(errorBox(error));
      }
    }
    return;
  }
  location.hash = '#/topics';
}

function onUnauthorized(error) {
  setToken(null);
  showLogin(error?.message);
}

signOut.addEventListener('click', () => {
  setToken(null);
  showLogin();
});
window.addEventListener('hashchange', render);

try {
  health = await get('/healthz');
} catch (error) {
  main.replaceChildren(errorBox(error));
}
render();

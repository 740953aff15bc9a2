// Runs a page's render step now and every REFRESH_MS until the page is left; one step at a time (a "now" during a
// step runs once more right after it). A refused token goes to sign-in; other errors go to the page's onError, which
// returns false to stop refreshing (an API this gateway does not have).
import { ApiError } from './api.js';

export const REFRESH_MS = 2000;

export async function autoRefresh(step, onError, onUnauthorized) {
  let stopped = false;
  let timer = null;
  let busy = false;
  let again = false;
  const run = async () => {
    clearTimeout(timer);
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    let keep = true;
    try {
      await step();
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        stopped = true;
        onUnauthorized(error);
      } else {
        keep = onError(error) !== false;
      }
    } finally {
      busy = false;
    }
    if (stopped || !keep) {
      return;
    }
    if (again) {
      again = false;
      run();
    } else {
      timer = setTimeout(run, REFRESH_MS);
    }
  };
  await run();
  return {
    now: run,
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

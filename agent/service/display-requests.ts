// The machine's display power requests for the tray's idle lock (idle:display-requests). Read
// only when asked, never on a timer of its own, and shared: one reading in flight at a time, and
// an answer kept for a few seconds, so however many local clients ask (the tray asks once a
// second while its warning shows) the OS command runs at most once per interval.
import { DISPLAY_REQUEST_HOLDERS_MAX, type DisplayRequestsView } from '../../shared/index.ts';
import type { DisplayRequestSource } from '../core/idle-lock/power-requests/power-requests.ts';

/** How long one reading answers every request: a video that starts shows within this. */
export const DISPLAY_REQUESTS_CACHE_MS = 5_000;

/** What the cache is built from. */
export interface DisplayRequestCacheOptions {
  source: DisplayRequestSource;
  now: () => Date;
  cacheMs?: number;
}

/** Display requests read on demand, at most once per `cacheMs`. */
export class DisplayRequestCache {
  readonly #options: DisplayRequestCacheOptions;
  #last: { at: number; view: DisplayRequestsView } | null = null;
  #reading: Promise<DisplayRequestsView> | null = null;

  constructor(options: DisplayRequestCacheOptions) {
    this.#options = options;
  }

  /** The latest answer while fresh, the reading in flight, or a new reading. Never rejects. */
  read(): Promise<DisplayRequestsView> {
    if (this.#reading !== null) {
      return this.#reading;
    }
    const now = this.#options.now().getTime();
    const last = this.#last;
    // A clock set back makes the answer stale rather than fresh for longer.
    if (
      last !== null &&
      now >= last.at &&
      now - last.at < (this.#options.cacheMs ?? DISPLAY_REQUESTS_CACHE_MS)
    ) {
      return Promise.resolve(last.view);
    }
    const reading = this.#options.source
      .read()
      .catch((error: unknown) => ({
        known: false as const,
        reason: `display requests could not be read: ${error instanceof Error ? error.message : String(error)}`,
      }))
      .then((answer): DisplayRequestsView => {
        const at = this.#options.now();
        const view: DisplayRequestsView = answer.known
          ? {
              known: true,
              held: answer.held,
              // The schema's bounds, whatever the source sends.
              holders: answer.holders
                .slice(0, DISPLAY_REQUEST_HOLDERS_MAX)
                .map((holder) => holder.slice(0, 200)),
              readAt: at.toISOString(),
            }
          : { known: false, reason: answer.reason.slice(0, 500), readAt: at.toISOString() };
        this.#last = { at: at.getTime(), view };
        return view;
      })
      .finally(() => {
        this.#reading = null;
      });
    this.#reading = reading;
    return reading;
  }
}

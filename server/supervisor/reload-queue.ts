/**
 * @module reload-queue
 * One app's reloads, one at a time, none dropped: a request that arrives while a reload runs
 * cannot be answered by it (its new workers may have loaded the code before the request's
 * change), so it gets a follow-up reload that starts when the running one ends. Every request
 * that arrives meanwhile folds into that same follow-up.
 *
 *   idle ──ask──▶ running(n) ──ask──▶ queued: running(n), next(n+1) ──ask──▶ same next (folded)
 *     ▲               │ ends                         │ running(n) ends
 *     └───────────────┘                              ▼
 *                                                running(n+1)
 */

/** How an ask was met: a reload started for it, the follow-up queued for it, or folded into it. */
export type ReloadAsk = 'started' | 'queued' | 'folded';

/** What the stats port shows, so that a client can wait for the reload that covers its request. */
export interface ReloadFigures {
  /** Reloads started so far: the generation of the latest. */
  started: number;
  /** Reloads ended so far, successful or not; they end in the order they started. */
  finished: number;
  /** Why the latest ended reload failed; '' if it succeeded or none ended yet. */
  error: string;
}

interface Pending<T> {
  promise: Promise<T>;
  settleWith(run: Promise<T>): void;
  source: string;
}

type State<T> =
  | { name: 'idle' }
  | { name: 'running'; run: Promise<T> }
  | { name: 'queued'; run: Promise<T>; next: Pending<T> };

export class ReloadQueue<T> {
  private state: State<T> = { name: 'idle' };
  private started = 0;
  private finished = 0;
  private error = '';

  /** `reload(source)` does one reload; `source` says who asked (the follow-up takes the first asker's). */
  constructor(private readonly reload: (source: string) => Promise<T>) {}

  /** Resolves or rejects with the outcome of the reload that started after this ask. */
  ask(source: string): { outcome: Promise<T>; how: ReloadAsk } {
    const state = this.state;
    if (state.name === 'idle') return { outcome: this.begin(source), how: 'started' };
    if (state.name === 'queued') return { outcome: state.next.promise, how: 'folded' };
    let settleWith: (run: Promise<T>) => void = () => {};
    const promise = new Promise<T>((resolve) => (settleWith = resolve));
    const next = { promise, settleWith, source };
    this.state = { name: 'queued', run: state.run, next };
    return { outcome: promise, how: 'queued' };
  }

  figures(): ReloadFigures {
    return { started: this.started, finished: this.finished, error: this.error };
  }

  private begin(source: string): Promise<T> {
    this.started++;
    let run: Promise<T>;
    try {
      run = this.reload(source);
    } catch (err) {
      run = Promise.reject(err);
    }
    this.state = { name: 'running', run };
    run.then(() => this.end(''), (err: unknown) => this.end(err instanceof Error ? err.message : String(err)));
    return run;
  }

  /** In one callback, so that no ask can slip in between the end and the follow-up's start. */
  private end(error: string): void {
    this.finished++;
    this.error = error;
    const state = this.state;
    if (state.name === 'queued') state.next.settleWith(this.begin(state.next.source));
    else this.state = { name: 'idle' };
  }
}

/**
 * @module limit-restore
 * persistLimits at start: which thread limit (or worker count) an app starts with, the config's
 * or the one last set at run time, and why. A value edited in the config since the last start
 * wins; an unchanged config lets the run-time value come back. Pure: the store's rows in, a choice out.
 */

/** What the timing store remembers of an app's limit (server/store/sqlite-writer.ts). */
export interface SavedLimit {
  /** The last audited limit and who set it. */
  threads: number;
  oldThreads: number;
  source: string;
  atMs: number;
  /** The config's threads as of the last start that recorded it (source CONFIG_SOURCE); null before. */
  configThreads: number | null;
}

/** The same for any setting kept this way: the thread limit, the worker count. */
export interface SavedSetting {
  value: number;
  oldValue: number;
  source: string;
  atMs: number;
  configValue: number | null;
}

/** The audit source of a row that records the config file's value. */
export const CONFIG_SOURCE = 'config';

export interface SettingChoice {
  value: number;
  /** For the log; null when there is nothing worth saying (no saved value, or it equals the config). */
  why: string | null;
  /** The config's value must be recorded as the new baseline (first start, or the config changed). */
  recordConfig: boolean;
}

export function chooseThreads(configured: number, saved: SavedLimit | undefined): SettingChoice {
  return chooseSetting('threads', configured, saved && { value: saved.threads, oldValue: saved.oldThreads, source: saved.source, atMs: saved.atMs, configValue: saved.configThreads });
}

export function chooseSetting(setting: 'threads' | 'workers', configured: number, saved: SavedSetting | undefined): SettingChoice {
  if (saved === undefined) return { value: configured, why: null, recordConfig: true };
  // Rows from before baselines were kept: the value the last run-time change replaced stands in.
  const baseline = saved.configValue ?? saved.oldValue;
  const when = new Date(saved.atMs).toISOString();
  if (configured !== baseline) {
    const dropped = saved.value === configured ? '' : `; ${saved.value}, set at run time (${saved.source}, ${when}), is not restored`;
    return { value: configured, why: `the config's ${setting} changed since the last start (${baseline} -> ${configured}), so the config's value is taken${dropped}`, recordConfig: true };
  }
  if (saved.value === configured) return { value: configured, why: null, recordConfig: saved.configValue === null };
  return {
    value: saved.value,
    why: `persistLimits: restored ${saved.value}, set at run time (${saved.source}, ${when}); the config's ${configured} is unchanged since`,
    // A baseline row now would become the last row and hide the run-time value at the next start.
    recordConfig: false,
  };
}

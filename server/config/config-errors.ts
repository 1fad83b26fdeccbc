/**
 * @module config-errors
 * Turns Ajv's errors for a config into one sentence per problem, naming the field's full path and
 * the real cause. `x: false | {…}` is an anyOf whose first branch Ajv reports ("must be equal to
 * constant"); we keep the branch whose type fits the value and report its deepest error.
 */
import type { ErrorObject } from 'ajv';
import { closest, distance } from 'fastest-levenshtein';

type Schema = Record<string, unknown>;

/** ".dashboard.token", "apps[1].threads" from "/dashboard/token", "/apps/1/threads". */
export function fieldName(instancePath: string): string {
  return instancePath.replace(/^\//, '').replace(/\/(\d+)/g, '[$1]').replace(/\//g, '.') || '(top level)';
}

/**
 * One message per problem of a failed validation, each naming its field. `errors` come from a
 * validator compiled with `verbose: true` (each error then carries its schema and the offending
 * value) and `allErrors: true` (every problem, each anyOf's branch errors just before its own).
 */
export function describeConfigErrors(errors: readonly ErrorObject[]): string[] {
  const messages = collect(errors).map((error) => `${fieldName(error.instancePath)}: ${explain(error)}`);
  // Two branches of one anyOf can fail the same way; say it once.
  return messages.length === 0 ? ['invalid'] : [...new Set(messages)];
}

/** The errors to report, in order: each anyOf's run of branch errors replaced by its pick. */
function collect(errors: readonly ErrorObject[]): ErrorObject[] {
  const picked: ErrorObject[] = [];
  let end = errors.length;
  while (end > 0) {
    const last = errors[end - 1] as ErrorObject;
    if (last.keyword !== 'anyOf' && last.keyword !== 'oneOf') {
      picked.unshift(last);
      end--;
      continue;
    }
    // Its branches' errors sit just before it, their schema paths under its own.
    const prefix = `${last.schemaPath}/`;
    let start = end - 1;
    while (start > 0 && (errors[start - 1] as ErrorObject).schemaPath.startsWith(prefix)) start--;
    picked.unshift(...pick(errors.slice(start, end - 1), last));
    end = start;
  }
  return picked;
}

/** For a failed anyOf: the errors of the branch whose type fits the value, else the anyOf itself. */
function pick(branchErrors: readonly ErrorObject[], anyOf: ErrorObject): ErrorObject[] {
  const prefix = `${anyOf.schemaPath}/`;
  const branches = new Map<number, ErrorObject[]>();
  for (const error of branchErrors) {
    const index = Number.parseInt(error.schemaPath.slice(prefix.length), 10);
    branches.set(index, [...(branches.get(index) ?? []), error]);
  }
  const fitting: ErrorObject[][] = [];
  for (const errors of branches.values()) {
    const chosen = collect(errors);
    if (chosen.length > 0 && !chosen.some((e) => isWrongKind(e, anyOf.instancePath))) fitting.push(chosen);
  }
  // The branch that got deepest into the value is the one the user meant.
  const depth = (list: ErrorObject[]): number => Math.max(...list.map((e) => e.instancePath.length));
  fitting.sort((a, b) => depth(b) - depth(a));
  return fitting[0] ?? [anyOf];
}

/** A branch that fails on the value itself for its type, const or enum is the wrong kind of value. */
function isWrongKind(error: ErrorObject, path: string): boolean {
  return error.instancePath === path && (error.keyword === 'type' || error.keyword === 'const' || error.keyword === 'enum');
}

function explain(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  const parent = (error.parentSchema ?? {}) as Schema;
  const field = fieldName(error.instancePath);
  const note = typeof parent.title === 'string' ? ` (${parent.title})` : '';
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const known = Object.keys((parent.properties ?? {}) as Schema);
      return `unknown key ${JSON.stringify(key)}${suggest(key, known)}; known keys: ${known.join(', ')}`;
    }
    case 'required':
      return `missing required key ${JSON.stringify(params.missingProperty)}`;
    case 'enum':
      return `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}, not ${shown(error.data)}`;
    case 'anyOf':
    case 'oneOf':
      return `must be ${choices((error.schema as Schema[]).map(kindOf))}, not ${shown(error.data)}`;
    case 'type':
      return `must be ${String(params.type)}${note}, not ${shown(error.data)}${durationHint(error.data, parent)}`;
    case 'pattern':
      return patternMessage(field, error.data);
    case 'minLength':
      if (field.endsWith('token')) return `is ${String(error.data).length} characters; it must be at least ${String(params.limit)} (for example the output of \`openssl rand -hex 32\`)`;
      return `must be at least ${String(params.limit)} characters long`;
    case 'minimum':
    case 'maximum':
      return `${error.message ?? 'out of range'}${note}, not ${shown(error.data)}`;
    default:
      return error.message ?? 'invalid';
  }
}

/** ` (did you mean "listen"?)` when a known key is a typo away (at most a third of it wrong). */
function suggest(key: string, known: string[]): string {
  if (known.length === 0) return '';
  const best = closest(key, known);
  return distance(key, best) <= Math.max(1, Math.floor(best.length / 3)) ? ` (did you mean ${JSON.stringify(best)}?)` : '';
}

function patternMessage(field: string, value: unknown): string {
  if (field.endsWith('.name')) return 'must match [A-Za-z_][A-Za-z0-9_]* (it becomes part of shell variable names)';
  // Apps and the stats port may also take a socket passed by systemd; the dashboard may not.
  const systemd = /^apps\[\d+\]\.listen$|^stats$/.test(field) ? ' or systemd:<name> (socket activation)' : '';
  if (/listen|stats|metrics/.test(field)) return `must be host:port or unix:/path.sock (for example "127.0.0.1:9002")${systemd}, not ${shown(value)}`;
  if (field.endsWith('.mount')) return `must be a URL path starting with "/" without "?" or "#" (for example "/app"), or "" for none, not ${shown(value)}`;
  return `has the wrong form: ${shown(value)}`;
}

/** A schema branch in words, for "must be false or an object with keys …". */
function kindOf(schema: Schema): string {
  if (typeof schema.title === 'string') return schema.title;
  if ('const' in schema) return JSON.stringify(schema.const);
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => JSON.stringify(v)).join(' or ');
  if (schema.type === 'object') return `an object with keys ${Object.keys((schema.properties ?? {}) as Schema).join(', ')}`;
  if (schema.type === 'integer' && typeof schema.minimum === 'number' && typeof schema.maximum === 'number') {
    return `an integer from ${schema.minimum} to ${schema.maximum}`;
  }
  if (schema.type === 'string' && typeof schema.pattern === 'string') return 'a string in the right form';
  return `a ${String(schema.type)}`;
}

/** "a, b, or c": a comma before the last choice, since a choice may itself contain "or". */
function choices(list: string[]): string {
  return list.length < 2 ? list.join('') : `${list.slice(0, -1).join(', ')}, or ${list[list.length - 1] as string}`;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "1d" where ms are wanted: say what to write instead. */
function durationHint(value: unknown, schema: Schema): string {
  if (typeof value !== 'string' || schema.type !== 'integer') return '';
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(value);
  if (match === null) return '';
  const ms = Math.round(Number(match[1]) * (UNIT_MS[match[2] as string] as number));
  return schema.title === 'milliseconds' ? `; write ${ms} for ${value.trim()}` : '';
}

function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** The message of a DOW_ERR_CONFIG: one problem inline, several one per line. */
export function formatProblems(problems: readonly string[]): string {
  if (problems.length === 1) return problems[0] as string;
  return `${problems.length} problems:\n${problems.map((p) => `  - ${p}`).join('\n')}`;
}

/**
 * @module config-credentials
 * Checks the config keys that name users and groups (`user`/`group` at the top level,
 * `socketOwner`/`socketGroup` per app) when the config loads, so that a typo is a config error
 * naming the field, not a failure halfway through the start.
 */
import { errors } from '../../shared/errors.js';
import type { SocketOwner } from '../listen/listen-address.js';
import { lookupGroup, lookupUser } from './unix-ids.js';

/** What the app-running processes become (`user`, `group`): resolved once, at load. */
export interface RunAs {
  user: string;
  uid: number;
  gid: number;
  home: string;
}

type IdSpec = string | number;

/** `socketOwner`/`socketGroup` of apps[i] as ids (-1: unchanged); undefined when neither is set. */
export function resolveSocketOwner(
  app: { listen: string; socketOwner?: IdSpec; socketGroup?: IdSpec },
  index: number,
  source: string,
): SocketOwner | undefined {
  if (app.socketOwner === undefined && app.socketGroup === undefined) return undefined;
  const field = app.socketOwner !== undefined ? 'socketOwner' : 'socketGroup';
  if (!app.listen.startsWith('unix:')) {
    throw new errors.DOW_ERR_CONFIG(source, `apps[${index}].${field}: only a unix: socket has an owner (a systemd: socket's is SocketUser=/SocketGroup= in its .socket unit)`);
  }
  return {
    uid: app.socketOwner === undefined ? -1 : userId(app.socketOwner, `apps[${index}].socketOwner`, source),
    gid: app.socketGroup === undefined ? -1 : groupId(app.socketGroup, `apps[${index}].socketGroup`, source),
  };
}

/**
 * `user` and `group`: the user must exist (its name is needed for HOME and the log); `group`
 * defaults to the user's primary group. Being root is checked here too, as the config is loaded
 * by the process that will have to switch.
 */
export function resolveRunAs(
  config: { user?: IdSpec; group?: IdSpec; apps: Array<{ workers?: number | 'auto' }> },
  source: string,
  currentUid: number,
): RunAs | null {
  if (config.user === undefined) {
    if (config.group !== undefined) throw new errors.DOW_ERR_CONFIG(source, 'group: set user as well (group alone would leave the server running as root)');
    return null;
  }
  const user = lookupUser(config.user);
  if (!user) throw new errors.DOW_ERR_CONFIG(source, `user: no user ${JSON.stringify(config.user)} on this system (looked up with getent passwd)`);
  const gid = config.group === undefined ? user.gid : groupId(config.group, 'group', source);
  if (currentUid !== 0 && currentUid !== user.uid) {
    throw new errors.DOW_ERR_CONFIG(source, `user: switching to ${user.name} needs the server to be started as root (it runs as uid ${currentUid}); start it as root or remove user`);
  }
  // An in-process app's module is loaded with the config, before anything could switch user:
  // its top-level code would run as root.
  const inProcess = config.apps.findIndex((app) => app.workers === 0);
  if (inProcess !== -1) {
    throw new errors.DOW_ERR_CONFIG(source, `apps[${inProcess}].workers: 0 (in-process) cannot be combined with user: the app's module would be loaded as root; use workers: 1 or more`);
  }
  return { user: user.name, uid: user.uid, gid, home: user.home };
}

function userId(spec: IdSpec, field: string, source: string): number {
  const user = lookupUser(spec);
  if (user) return user.uid;
  // A bare number needs no entry: chown takes any id.
  if (typeof spec === 'number' || /^\d+$/.test(spec)) return Number(spec);
  throw new errors.DOW_ERR_CONFIG(source, `${field}: no user ${JSON.stringify(spec)} on this system (looked up with getent passwd)`);
}

function groupId(spec: IdSpec, field: string, source: string): number {
  const group = lookupGroup(spec);
  if (group) return group.gid;
  if (typeof spec === 'number' || /^\d+$/.test(spec)) return Number(spec);
  throw new errors.DOW_ERR_CONFIG(source, `${field}: no group ${JSON.stringify(spec)} on this system (looked up with getent group)`);
}

// Names for uids from /etc/passwd (or gids from /etc/group: the same name:x:id: layout), cached; re-read on a
// miss at most once per reload interval (new accounts appear without restarting the agent). Directory-service
// users and groups (LDAP, sssd) that are not in the file stay unnamed: the id is always reported.

import { readFileSync } from 'node:fs';
import { parsePasswd } from './parse.ts';

export class UserNames {
  readonly path: string;
  readonly reloadMs: number;
  #users = new Map<number, string>();
  #loadedAt = -Infinity;

  constructor(path = '/etc/passwd', reloadMs = 60_000) {
    this.path = path;
    this.reloadMs = reloadMs;
  }

  lookup(uid: number): string | undefined {
    const name = this.#users.get(uid);
    if (name !== undefined || Date.now() - this.#loadedAt < this.reloadMs) return name;
    this.#loadedAt = Date.now();
    try {
      this.#users = parsePasswd(readFileSync(this.path, 'utf8'));
    } catch {
      // keep what we had: an unreadable passwd file only costs names
    }
    return this.#users.get(uid);
  }
}

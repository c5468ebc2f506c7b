import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { deviceClientId } from './client-id-rule.ts';
import type { CredentialUser } from './credentials.ts';

/**
 * The client-id rule (client-id-rule.ts) for Mosquitto 2.0, as far as Mosquitto can state it.
 *
 * Neither `password_file` nor `acl_file` can tie a client id to a username: ACL patterns (`%c`,
 * `%u`) only choose topics, and `use_username_as_clientid` replaces every client's id with its
 * username, which would make the receivers sharing the user `receiver` take each other's session.
 * The dynamic-security plugin shipped with Mosquitto 2.0 can: a dynsec client with a `clientid`
 * may connect only with that id (mosquitto.org/documentation/dynamic-security, "Client ID"). The
 * plugin's basic-auth check compares the id first and, finding no password of its own, defers to
 * `password_file`; `acl_file` still decides every topic, so the rest of the policy is unchanged
 * (and the plugin's `$CONTROL/dynamic-security` topics stay closed: `#` never matches a `$`
 * topic [MQTT-4.7.2-1]).
 *
 * So each device user gets a dynsec client with `clientid` `device-<deviceId>`. Gap: a dynsec
 * client has one exact id, so the service namespaces (`receiver` owns `receiver-*`) cannot be
 * stated; services, being trusted, stay free to choose ids on Mosquitto. Devices, the untrusted
 * side, cannot take any id but their own on either broker. Second gap: the plugin compares the
 * id Mosquitto assigned to an empty one, so a device that sends an empty id (the original device
 * software) is refused on Mosquitto, while aedes admits it (client-id-rule.ts).
 */
export function renderMosquittoClientIds(users: readonly CredentialUser[]): string {
  const config = {
    clients: users.filter((u) => u.role === 'device').map((u) => ({ username: u.username, clientid: deviceClientId(u.device_id), roles: [] })),
    groups: [],
    roles: [],
    // Never consulted while acl_file decides; closed anyway, should acl_file ever be dropped.
    defaultACLAccess: { publishClientSend: false, publishClientReceive: false, subscribe: false, unsubscribe: false },
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

const PLUGIN = 'mosquitto_dynamic_security.so';

/** Where Debian/Ubuntu (multiarch dirs), Alpine and source installs put the plugin. */
export function findDynamicSecurityPlugin(): string | undefined {
  const multiarch = existsSync('/usr/lib') ? readdirSync('/usr/lib').filter((d) => /-linux-(gnu|musl)/.test(d)).map((d) => join('/usr/lib', d)) : [];
  const dirs = [...multiarch, '/usr/lib', '/usr/lib/mosquitto', '/usr/local/lib', '/usr/local/lib/mosquitto'];
  return dirs.map((d) => join(d, PLUGIN)).find((path) => existsSync(path));
}

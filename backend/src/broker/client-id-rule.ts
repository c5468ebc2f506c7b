import type { CredentialSet } from './credentials.ts';
import type { ClientIdentity, Decision } from './identity.ts';

/**
 * Which MQTT client ids a user may connect with.
 *
 * A session belongs to a client id, not to a user: a CONNECT with an id already connected makes
 * the server disconnect the existing client [MQTT-3.1.4-2], which publishes that client's Will
 * (3.1.1 §3.1.2.5), and with CleanSession 0 the newcomer resumes the stored session and its queued
 * messages [MQTT-3.1.2-4]. Whoever may pick an id may therefore kick its owner or read its queue,
 * so each id belongs to one user:
 *
 * - A device user may use exactly `device-<deviceId>`, the id the uplink sends
 *   (device/src/uplink/uplink-service.ts). The whole id is compared: a prefix rule such as
 *   `<deviceId>-*` would be ambiguous, since device ids may contain `-` and device `dev` would
 *   then own `dev-1-…`.
 * - Anyone may send an empty id with CleanSession 1: the server then assigns a fresh unique one
 *   [MQTT-3.1.3-6], which can take over nothing. The original device software (paho-mqtt 1.x,
 *   `mqtt.Client()`) connects that way, unchanged, and must keep working
 *   (docs/original-system.md §7). An empty id with CleanSession 0 is refused [MQTT-3.1.3-8].
 *   Mosquitto cannot state this part (mosquitto-client-ids.ts).
 * - A service user `svc` owns `svc` and `svc-<anything>` (user `receiver`: `receiver-1`,
 *   `receiver-2`). Where names nest (`receiver` and `receiver-eu`) the longest name owns the id.
 * - A service (or an anonymous client, local development only) may also use an id nobody owns,
 *   e.g. a CLI's `device-cli-<pid>` or a tool's random id, but never a device's id nor an id in
 *   another service's namespace.
 *
 * A refusal is answered with CONNACK 2 "identifier rejected" [MQTT-3.1.3-9] by the caller.
 */
export type ClientIdRefusal = 'client_id_not_owned';

/** The one client id a device connects with. */
export function deviceClientId(deviceId: string): string {
  return `device-${deviceId}`;
}

export class ClientIdRule {
  /** Client id → device id, for every device user. */
  private readonly deviceIds = new Map<string, string>();
  /** Service usernames, longest first, so the first match is the most specific owner. */
  private readonly services: string[];

  constructor(credentials: CredentialSet) {
    for (const user of credentials.users) {
      if (user.role === 'device') this.deviceIds.set(deviceClientId(user.device_id), user.device_id);
    }
    this.services = credentials.users
      .filter((u) => u.role === 'service')
      .map((u) => u.username)
      .sort((a, b) => b.length - a.length);
  }

  /** `assigned`: the client sent an empty id and the broker chose `clientId` for it. */
  check(identity: ClientIdentity, clientId: string, assigned?: { cleanSession: boolean }): Decision<ClientIdRefusal> {
    if (assigned !== undefined) return assigned.cleanSession ? { ok: true } : { ok: false, reason: 'client_id_not_owned' };
    if (identity.role === 'device') {
      return clientId === deviceClientId(identity.deviceId) ? { ok: true } : { ok: false, reason: 'client_id_not_owned' };
    }
    if (this.deviceIds.has(clientId)) return { ok: false, reason: 'client_id_not_owned' };
    const owner = this.serviceOwner(clientId);
    return owner === undefined || owner === identity.username ? { ok: true } : { ok: false, reason: 'client_id_not_owned' };
  }

  /** The service user whose namespace holds `clientId`, if any. */
  serviceOwner(clientId: string): string | undefined {
    return this.services.find((name) => clientId === name || clientId.startsWith(`${name}-`));
  }
}

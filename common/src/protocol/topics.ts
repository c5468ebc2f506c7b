/**
 * MQTT topics. The original system's four topics keep their names and their env vars
 * (MQTT_TOPIC_BROADCAST, _REQUEST, _RESPONSE, _VALUES; docs/original-system.md §10); protocol v1 adds its own
 * channels beside them under the same per-device prefix, so one ACL rule ("a device owns
 * iot-projekt/device/<its id>/...") covers both.
 *
 * Templates contain `{device_uuid}`; a device fills in its id, the backend puts `+` there to
 * subscribe and matches incoming topics against the templates to learn the sender.
 */
export const DEVICE_PLACEHOLDER = '{device_uuid}';

export const DEFAULT_TOPICS = {
  /** Commands to all devices (original). */
  broadcast: 'iot-projekt/device/broadcast/control',
  /** Commands to one device (original; v1 commands add an id). Backend → device. */
  request: 'iot-projekt/device/{device_uuid}/request',
  /** Answers to commands (original, QoS 0; v1 adds id and ok). Device → backend. */
  response: 'iot-projekt/device/{device_uuid}/response',
  /** Readings in the original format (a JSON array), also used for send_measurements. */
  values: 'iot-projekt/device/{device_uuid}/values',
  /** v1 reading batches, QoS 1. Device → backend. */
  readings: 'iot-projekt/device/{device_uuid}/readings',
  /** v1 acknowledgement of a committed batch, QoS 1. Backend → device. */
  ack: 'iot-projekt/device/{device_uuid}/ack',
  /** v1 device status, retained; the Last Will sets it offline. Device → backend. */
  status: 'iot-projekt/device/{device_uuid}/status',
  /** v1 desired configuration (retained, versioned). Backend → device. */
  configDesired: 'iot-projekt/device/{device_uuid}/config/desired',
  /** v1 effective configuration after applying a desired version. Device → backend. */
  configReported: 'iot-projekt/device/{device_uuid}/config/reported',
} as const;

export type Channel = keyof typeof DEFAULT_TOPICS;
export type TopicTemplates = Record<Channel, string>;

/** Channels a device publishes on (everything else it may only receive). */
export const DEVICE_PUBLISHES: readonly Channel[] = ['response', 'values', 'readings', 'status', 'configReported'];
/** Channels a device subscribes to. */
export const DEVICE_SUBSCRIBES: readonly Channel[] = ['broadcast', 'request', 'ack', 'configDesired'];

/** A device id: what balena's BALENA_DEVICE_UUID looks like, and never an MQTT wildcard or level separator. */
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** Ids that would collide with topic words. */
export const RESERVED_DEVICE_IDS: ReadonlySet<string> = new Set(['broadcast']);

export function isValidDeviceId(id: string): boolean {
  return DEVICE_ID_PATTERN.test(id) && !RESERVED_DEVICE_IDS.has(id);
}

/** Checks templates given by configuration; returns problems for a person to fix. */
export function templateProblems(templates: TopicTemplates): string[] {
  const problems: string[] = [];
  for (const [channel, template] of Object.entries(templates) as [Channel, string][]) {
    if (/[+#]/.test(template)) problems.push(`${channel} topic "${template}" must not contain MQTT wildcards`);
    const placeholders = template.split(DEVICE_PLACEHOLDER).length - 1;
    if (channel === 'broadcast' ? placeholders !== 0 : placeholders !== 1) {
      problems.push(`${channel} topic "${template}" must contain ${DEVICE_PLACEHOLDER} ${channel === 'broadcast' ? 'zero times' : 'exactly once'}`);
    }
  }
  return problems;
}

export class TopicScheme {
  readonly templates: TopicTemplates;
  private readonly matchers: { channel: Channel; regex: RegExp }[];

  constructor(templates: Partial<TopicTemplates> = {}) {
    this.templates = { ...DEFAULT_TOPICS, ...templates };
    this.matchers = (Object.entries(this.templates) as [Channel, string][]).map(([channel, template]) => ({
      channel,
      regex: new RegExp(`^${template.split(DEVICE_PLACEHOLDER).map(escapeRegex).join('([^/+#]+)')}$`),
    }));
  }

  /** The concrete topic of `channel` for one device. */
  topic(channel: Channel, deviceId: string): string {
    return this.templates[channel].replace(DEVICE_PLACEHOLDER, deviceId);
  }

  /** A subscription filter matching `channel` for every device. */
  filter(channel: Channel): string {
    return this.templates[channel].replace(DEVICE_PLACEHOLDER, '+');
  }

  /** Which channel and device a concrete topic belongs to, if any. */
  match(topic: string): { channel: Channel; deviceId: string | undefined } | undefined {
    for (const { channel, regex } of this.matchers) {
      const found = regex.exec(topic);
      if (found !== null) return { channel, deviceId: found[1] };
    }
    return undefined;
  }
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The OpenAPI 3.1 description of the web admin's HTTP API, written by hand next to the routes
 * (api-routes.ts, app.ts); a test checks every route appears here.
 */
const error = { $ref: '#/components/responses/Error' };
const json = (description: string, schema: object = { type: 'object' }) => ({ description, content: { 'application/json': { schema } } });
const deviceId = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const int = (name: string, description: string, maximum?: number) => ({
  name,
  in: 'query',
  required: false,
  description,
  schema: { type: 'integer', minimum: 0, ...(maximum === undefined ? {} : { maximum }) },
});
const range = [int('from', 'measured_at lower bound, epoch ms (inclusive)'), int('to', 'measured_at upper bound, epoch ms (inclusive)')];
/** A required JSON object body with these fields. */
const jsonBody = (required: string[], properties: Record<string, object>) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', required, properties } } },
});
const read = (summary: string, parameters: object[] = []) => ({ summary, parameters, responses: { 200: json('OK'), 400: error, 401: error, 404: error } });

export const OPENAPI_DOCUMENT = {
  openapi: '3.1.0',
  info: {
    title: 'IoT web admin API',
    version: '1.1.0',
    description:
      'Session cookie (with X-CSRF-Token on state changes) or Authorization: Bearer <API token>. An API token has a scope (read: a viewer whatever its user, every non-GET is 403 read_only_token; full: its user\'s role), an expiry, and may be revoked (401 afterwards).',
  },
  components: {
    securitySchemes: {
      session: { type: 'apiKey', in: 'cookie', name: 'iot_session' },
      token: { type: 'http', scheme: 'bearer' },
    },
    schemas: {
      Error: {
        type: 'object',
        required: ['error'],
        properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } } } },
      },
    },
    responses: { Error: json('An error', { $ref: '#/components/schemas/Error' }) },
  },
  security: [{ session: [] }, { token: [] }],
  paths: {
    '/login': {
      post: {
        summary: 'Log in (JSON or form body: username, password); sets the session cookie',
        security: [],
        requestBody: {
          content: {
            'application/json': { schema: { type: 'object', required: ['username', 'password'], properties: { username: { type: 'string' }, password: { type: 'string' } } } },
            'application/x-www-form-urlencoded': { schema: { type: 'object' } },
          },
        },
        description:
          'Usernames are normalised (NFKC, trimmed, lower-case) before the lookup. After 5 failed attempts per client address and account within 15 min (every spelling of one account counts together; an attempt counts from the moment it is checked), further attempts get 429 with Retry-After.',
        responses: { 200: json('Logged in; body has user and csrfToken'), 400: error, 401: error, 429: error },
      },
    },
    '/logout': { post: { summary: 'End the session (needs X-CSRF-Token)', responses: { 204: { description: 'Logged out' }, 401: error, 403: error } } },
    '/health': { get: { summary: 'Liveness and database status', security: [], responses: { 200: json('Healthy'), 503: json('Database unreachable') } } },
    '/metrics': {
      get: { summary: 'Prometheus metrics (text format 0.0.4), unauthenticated', security: [], responses: { 200: { description: 'Metrics', content: { 'text/plain': { schema: { type: 'string' } } } } } },
    },
    '/api/openapi.json': { get: { summary: 'This document', security: [], responses: { 200: json('OpenAPI 3.1') } } },
    '/api/session': { get: { summary: 'The current user and the CSRF token', responses: { 200: json('Session'), 401: error } } },
    '/api/devices': { get: { summary: 'All devices with status', responses: { 200: json('Devices'), 401: error } } },
    '/api/devices/{id}': { get: read('One device with desired and reported configuration, its latest reading and its presence (reported, or inferred for an original device)', [deviceId]) },
    '/api/devices/{id}/readings': {
      get: read('Readings in a range in time order (ties by id), keyset-paginated: `next` is the `after` of the next page, null on the last', [
        deviceId,
        ...range,
        int('limit', 'page size, 1–1000 (default 100)', 1000),
        { name: 'after', in: 'query', required: false, description: 'cursor `<measured_at>.<id>`: the `next` of the previous page', schema: { type: 'string' } },
        { name: 'order', in: 'query', required: false, description: 'asc (oldest first, default) or desc (newest first)', schema: { type: 'string', enum: ['asc', 'desc'] } },
      ]),
    },
    '/api/devices/{id}/readings.csv': {
      get: {
        ...read(
          'CSV export of a range. Every text cell and header is quoted; text starting with = + - @ (also fullwidth or small forms), whitespace or an invisible format character gets a leading apostrophe; control characters become U+FFFD; a time no date can hold reads `invalid time (<value>)`',
          [deviceId, ...range],
        ),
        responses: { 200: { description: 'CSV', content: { 'text/csv': { schema: { type: 'string' } } } }, 400: error, 401: error, 404: error },
      },
    },
    '/api/devices/{id}/gaps': {
      get: read('Missing sequence numbers per boot as ranges (404 for an unknown boot); `missingCount` is the exact total even when the ranges are cut at `limit`', [
        deviceId,
        { name: 'boot', in: 'query', required: false, description: 'only this boot id', schema: { type: 'string', maxLength: 16 } },
        int('limit', 'ranges per boot at most, 1–10000 (default 1000)', 10000),
      ]),
    },
    '/api/devices/{id}/commands': {
      get: read('Command history, newest first. `ok` is true or false as the device answered, and null until answered or when the answer reports no outcome (the original software answers reboot before rebooting; docs/original-devices.md)', [deviceId, int('limit', '1–1000 (default 50)', 1000)]),
      post: {
        summary: 'Send a command (admin)',
        parameters: [deviceId],
        requestBody: jsonBody(['command'], {
          command: { type: 'string' },
          key: { type: 'string' },
          value: { type: ['string', 'number'] },
          seconds: { type: 'number' },
          min_id: { type: 'string' },
          max_id: { type: 'string' },
          count: { type: 'integer' },
          ttl_seconds: { type: 'integer', minimum: 1, maximum: 86400 },
        }),
        responses: { 202: json('Sent; body has the command id'), 400: error, 401: error, 403: error, 404: error, 503: error },
      },
    },
    '/api/broadcasts': {
      get: read('Broadcast commands, newest first, with answer counts (total, ok, failed, notReported)', [int('limit', '1–1000 (default 50)', 1000)]),
      post: {
        summary: 'Send a command to every connected device on the broadcast topic (admin)',
        description:
          'Sent in the original format (no id), which every device understands; start/stop/interval become set_config. Allowed: get_config, set_config, start_measurement, stop_measurement, set_interval, reboot (reboot needs "confirm": true). Each device that answers gets one answer row; answers are matched by command, key and value.',
        requestBody: jsonBody(['command'], {
          command: { type: 'string' },
          key: { type: 'string' },
          value: { type: ['string', 'number'] },
          seconds: { type: 'number' },
          ttl_seconds: { type: 'integer', minimum: 1, maximum: 86400, description: 'answers after this are no longer tied to the broadcast (default 300)' },
          confirm: { type: 'boolean', description: 'required for reboot' },
        }),
        responses: { 202: json('Sent; body has the broadcast id'), 400: error, 401: error, 403: error, 503: error },
      },
    },
    '/api/devices/{id}/broadcasts': {
      get: read('The broadcasts this device answered, newest first, each with its answer', [deviceId, int('limit', '1–1000 (default 50)', 1000)]),
    },
    '/api/broadcasts/{id}': {
      get: read('One broadcast and every device\'s answer (deviceId, answeredAt, ok: true, false or null when not reported, response)', [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }]),
    },
    '/api/devices/{id}/desired-config': {
      put: {
        summary: 'Set the desired configuration (admin)',
        parameters: [deviceId],
        requestBody: jsonBody(['config'], { config: { type: 'object', additionalProperties: { type: 'string' } } }),
        responses: { 200: json('Stored; body has the new version'), 400: error, 401: error, 403: error, 404: error, 503: error },
      },
    },
    '/api/fleet': {
      get: {
        summary: 'One page of the fleet, searched, filtered and sorted: each device with its presence, readings stored, latest reading, desired and reported configuration and drift',
        description:
          'presence.basis is `status` for a v1 device (online/offline from its status and Last Will, unknown before the first) and `inferred` for a device running the original software, which publishes no status: online while last seen within 3 measuring intervals plus 1 s (the interval is the median spacing of its newest 21 readings), else stale (silentForMs says how long); unknown with fewer than two readings; never offline.',
        parameters: [
          { name: 'q', in: 'query', required: false, description: 'a substring of the device id or name, any case (at most 100 characters)', schema: { type: 'string', maxLength: 100 } },
          { name: 'status', in: 'query', required: false, description: 'only devices whose presence.state is this', schema: { enum: ['online', 'offline', 'stale', 'unknown'] } },
          { name: 'drift', in: 'query', required: false, description: 'drifting: a desired key differs from the reported one; in-sync: none does (or nothing is desired)', schema: { enum: ['drifting', 'in-sync'] } },
          { name: 'sort', in: 'query', required: false, description: 'name (display name, the default), id, last-seen, readings or status (online, stale, offline, unknown); ties by id', schema: { enum: ['name', 'id', 'last-seen', 'readings', 'status'] } },
          { name: 'order', in: 'query', required: false, description: 'asc (default) or desc', schema: { enum: ['asc', 'desc'] } },
          int('limit', 'devices per page, 1–200 (default 50)', 200),
          int('offset', 'devices to skip (default 0)', 1_000_000_000),
        ],
        responses: {
          200: json('One page of the devices that match: `devices`, `total` (all that match), `offset`, `limit`, and `fleet` (devices, online, drifting of the whole fleet)'),
          400: error,
          401: error,
        },
      },
    },
    '/api/devices/{id}/series': {
      get: read('Chart data: per metric [t, min, mean, max, count] points, downsampled by the server (raw, minute or hour resolution)', [
        deviceId,
        ...range,
        { ...int('points', 'points at most, 2–2000 (default 600)', 2000) },
      ]),
    },
    '/api/devices/{id}/name': {
      put: {
        summary: 'Set or clear (null) the display name (admin)',
        parameters: [deviceId],
        requestBody: jsonBody(['name'], { name: { type: ['string', 'null'], maxLength: 100 } }),
        responses: { 200: json('The device'), 400: error, 401: error, 403: error, 404: error },
      },
    },
    '/api/integrity': {
      get: {
        summary:
          'Per device: readings stored, duplicates absorbed, missing sequence numbers, readings without sequence numbers (unsequenced), readings with the clock-skew flag (clockSkewed), suspected gaps (null for a device whose readings all have sequence numbers), and per boot readings, min/max/shutdown seq, missingCount and clockSkewed (ranges: /api/devices/{id}/gaps)',
        description:
          'clockSkewed: readings stored with clock_skew = 1, measured at a time implausible for their arrival. suspectedGaps: inferred, not counted, for readings without sequence numbers (the original software): spacings of measured time at least `factor` local intervals (rolling median), searched among the newest 2000 readings of the device only (at most 50 listed, newest first; gapCount and estimatedMissing cover all found); older ones page by page on /api/devices/{id}/suspected-gaps from `next`.',
        parameters: [
          { name: 'factor', in: 'query', required: false, description: 'intervals a spacing must reach to be a suspected gap, 1.1–1000 (default 1.5)', schema: { type: 'number', minimum: 1.1, maximum: 1000 } },
          { name: 'q', in: 'query', required: false, description: 'a substring of the device id or name, any case (at most 100 characters)', schema: { type: 'string', maxLength: 100 } },
          int('limit', 'devices per page by id, 1–200 (default 50)', 200),
          int('offset', 'devices to skip (default 0)', 1_000_000_000),
        ],
        responses: { 200: json('One page of the integrity report: `devices`, `total` (all that match), `offset`, `limit`'), 400: error, 401: error },
      },
    },
    '/api/devices/{id}/suspected-gaps': {
      get: read(
        'One page of suspected gaps (inferred, for readings without sequence numbers): the page is the newest `readings` readings by measured time, or those before `before`; each spacing at least `factor` times the median spacing around it (the larger of the medians of the 10 spacings before and after it, each with itself) is a suspected gap with from, to, durationMs, intervalMs and estimatedMissing; readings with sequence numbers or the clock-skew flag are not judged. `next` is the `before` of the next older page, null at the oldest reading',
        [
          deviceId,
          { name: 'before', in: 'query', required: false, description: 'cursor `<measured_at>.<id>`: the `next` of the previous page', schema: { type: 'string' } },
          int('readings', 'readings in the page, 2–50000 (default 10000)', 50000),
          int('limit', 'gaps listed at most, 1–10000 (default 1000); gapCount is the page total', 10000),
          { name: 'factor', in: 'query', required: false, description: 'intervals a spacing must reach, 1.1–1000 (default 1.5)', schema: { type: 'number', minimum: 1.1, maximum: 1000 } },
        ],
      ),
    },
    '/api/events': {
      get: {
        summary: 'Server-Sent Events: device, readings and commands changes (data is JSON)',
        description:
          'At most 6 streams per session or API token and 12 per user (429 with Retry-After beyond), 200 in all, of which viewers together get at most 180 so admins always find a slot (503 with Retry-After when none is left).',
        responses: { 200: { description: 'Event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } }, 401: error, 429: error, 503: error },
      },
    },
    '/api/tokens': {
      get: {
        summary: "Every user's API tokens, newest first (admin): id, user, name, scope, created, expires, revoked and last used times, state (active, expired, revoked); never the token",
        responses: { 200: json('Tokens'), 401: error, 403: error },
      },
    },
    '/api/tokens/{id}/revoke': {
      post: {
        summary: 'Revoke an API token (admin); revoking again keeps the first time',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } }],
        responses: { 200: json('The revoked token'), 400: error, 401: error, 403: error, 404: error },
      },
    },
    '/api/rejections': { get: read('Rejected messages, newest first', [int('limit', '1–1000 (default 50)', 1000), int('offset', 'rows to skip')]) },
  },
} as const;

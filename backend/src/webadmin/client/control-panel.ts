import { apiPost, devicePath, showError } from './api.ts';
import { actionButton, el } from './dom.ts';
import { fromDateTimeLocal, toDateTimeLocal } from './format.ts';

type CommandBody = { command: string } & Record<string, string | number>;

/**
 * The device's one-off commands (start, stop, interval, reboot, resend a range). Admins only:
 * a viewer sees the panel disabled with a note, and the server refuses anyway.
 */
export function controlPanel(deviceId: string, isAdmin: boolean, onSent: () => void): HTMLElement {
  const status = el('p', { class: 'muted small', 'data-testid': 'command-status', 'aria-live': 'polite' });
  const disabled = !isAdmin;

  const send = async (body: CommandBody): Promise<void> => {
    status.textContent = `sending ${body.command}…`;
    try {
      const { id } = await apiPost<{ id: string }>(devicePath(deviceId, '/commands'), body);
      status.textContent = `${body.command} sent (command ${id}); its state shows in the history below`;
    } catch {
      status.textContent = `${body.command} was not sent`;
    } finally {
      onSent();
    }
  };

  const seconds = el('input', { type: 'number', min: 0.1, step: 'any', value: 10, id: 'cmd-interval-seconds', 'data-testid': 'cmd-interval-seconds', disabled, class: 'narrow' });
  const hourAgo = toDateTimeLocal(Date.now() - 3600_000);
  const resendMin = el('input', { type: 'datetime-local', id: 'cmd-resend-min', 'data-testid': 'cmd-resend-min', value: hourAgo, disabled });
  const resendMax = el('input', { type: 'datetime-local', id: 'cmd-resend-max', 'data-testid': 'cmd-resend-max', value: toDateTimeLocal(Date.now()), disabled });

  const buttons = el('div', { class: 'button-row' }, [
    actionButton('Start measuring', { 'data-testid': 'cmd-start', disabled }, () => send({ command: 'start_measurement' })),
    actionButton('Stop measuring', { 'data-testid': 'cmd-stop', disabled }, () => send({ command: 'stop_measurement' })),
    actionButton('Reboot', { 'data-testid': 'cmd-reboot', class: 'danger', disabled }, async () => {
      if (confirm(`Reboot device ${deviceId}?`)) await send({ command: 'reboot' });
    }),
  ]);
  const interval = el('div', { class: 'inline-form field-grid' }, [
    el('label', { for: 'cmd-interval-seconds' }, 'Interval (s)'),
    seconds,
    actionButton('Set interval', { 'data-testid': 'cmd-interval', disabled }, async () => {
      const value = Number(seconds.value);
      if (!Number.isFinite(value) || value <= 0) {
        showError('the interval must be a positive number of seconds');
        return;
      }
      await send({ command: 'set_interval', seconds: value });
    }),
  ]);
  const resend = el('div', { class: 'inline-form field-grid' }, [
    el('label', { for: 'cmd-resend-min' }, 'Resend from'),
    resendMin,
    el('label', { for: 'cmd-resend-max' }, 'to'),
    resendMax,
    actionButton('Request resend', { 'data-testid': 'cmd-resend', disabled }, async () => {
      const min = fromDateTimeLocal(resendMin.value);
      const max = fromDateTimeLocal(resendMax.value);
      if (min === undefined || max === undefined || min > max) {
        showError('choose a resend range whose start is not after its end');
        return;
      }
      // Stream ids are `<ms>-<n>`; the inputs have minute precision, so "to" means the end of its minute.
      await send({ command: 'send_measurements', min_id: `${min}-0`, max_id: `${max + 59_999}-0` });
    }),
  ]);
  return el('div', { class: `control-panel${disabled ? ' disabled' : ''}`, 'data-testid': 'control-panel' }, [
    disabled ? el('p', { class: 'note', 'data-testid': 'viewer-note' }, 'Commands need the admin role; you are logged in as a viewer.') : null,
    buttons,
    interval,
    resend,
    status,
  ]);
}

import type { Oversampling } from './registers.ts';

/**
 * Measurement time in forced mode (datasheet Appendix B §9.1). Each enabled measurement adds its
 * oversampling times 2 ms (typical) or 2.3 ms (maximum); pressure and humidity also add their
 * 0.5 ms (0.575 ms) setup time.
 */
export function measurementTimeTypicalMs(t: Oversampling, p: Oversampling, h: Oversampling): number {
  return 1 + 2 * t + (2 * p + 0.5) + (2 * h + 0.5);
}

export function measurementTimeMaxMs(t: Oversampling, p: Oversampling, h: Oversampling): number {
  return 1.25 + 2.3 * t + (2.3 * p + 0.575) + (2.3 * h + 0.575);
}

/**
 * Time for the NVM copy after a reset (status.im_update): the datasheet gives the 2 ms start-up
 * time (Table 1, t_startup) as the bound before the chip is ready.
 */
export const NVM_COPY_MAX_MS = 2;

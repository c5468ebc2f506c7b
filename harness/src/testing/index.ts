export { captureLogs, eventually } from './log-capture.ts';

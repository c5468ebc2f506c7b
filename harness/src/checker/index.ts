export { checkDelivery, type DeliveryReport, historyFromLogs, type RecordedReading, type StoredReading } from './delivery-checker.ts';

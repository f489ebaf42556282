// Public surface of the outbox: the service imports from here, not from the parts.
export {
  DROP_NOTICE_RESERVE,
  Outbox,
  REJECTED_DIR,
  type AddResult,
  type DropTally,
  type OutboxItem,
  type OutboxKind,
  type OutboxOptions,
  type RejectedItem,
  type SetAsideFile,
} from './outbox.ts';
export {
  deliver,
  type DeliverOptions,
  type DeliveryResult,
  type Send,
  type SendOutcome,
} from './deliver.ts';
export {
  DEFAULT_BACKOFF,
  backoffDelayMs,
  parseRetryAfter,
  type BackoffOptions,
} from './backoff.ts';

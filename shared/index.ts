// Public surface of shared/: schemas and types of every message that crosses a process boundary.
export * from './schemas/common.ts';
export * from './schemas/check-result.ts';
export * from './schemas/device-facts.ts';
export * from './schemas/policy.ts';
export * from './schemas/report.ts';
export * from './schemas/events.ts';
export * from './schemas/api.ts';
export * from './schemas/ict-api.ts';
export * from './schemas/ipc.ts';
export * from './device-group-header.ts';
export * from './schemas/usb.ts';
export * from './http-signature.ts';
export * from './validate.ts';
export * from './policy-semantics.ts';
export * from './aup-text.ts';
export * from './schemas/aup-register.ts';
export * from './schemas/school-page.ts';

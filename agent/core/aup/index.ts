// AUP rules: who has which role and what they must sign now (pure; the service does the I/O).
export * from './role.ts';
export * from './due.ts';

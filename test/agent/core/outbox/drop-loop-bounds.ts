/** The drop-count kill test's bounds, shared by its child and the test that reopens the outbox. */
export const DROP_LOOP_BOUNDS = { maxReports: 2, maxEvents: 3 } as const;

// Values as the ICT API returns them, from what the database returns.

export const DAY_MS = 86_400_000;

/** A timestamp column as ISO 8601, keeping null. */
export const iso = (value: Date | null): string | null =>
  value === null ? null : new Date(value).toISOString();

/** A not-null timestamp column as ISO 8601. */
export const isoRequired = (value: Date): string => new Date(value).toISOString();

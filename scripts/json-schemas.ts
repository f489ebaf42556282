import {
  AgentEventSchema,
  CheckResultSchema,
  ComplianceReportSchema,
  DeviceFactsSchema,
  PersonExportSchema,
  PolicySchema,
} from '../shared/index.ts';

/** The published JSON Schema files: name → schema, draft 2020-12. */
export function jsonSchemaFiles(): Record<string, string> {
  const entries = {
    'policy.schema.json': PolicySchema,
    'compliance-report.schema.json': ComplianceReportSchema,
    'check-result.schema.json': CheckResultSchema,
    'device-facts.schema.json': DeviceFactsSchema,
    'agent-event.schema.json': AgentEventSchema,
    // The subject access export ICT hands to a pupil, parent or member of staff.
    'person-export.schema.json': PersonExportSchema,
  };
  return Object.fromEntries(
    Object.entries(entries).map(([name, schema]) => [
      name,
      JSON.stringify(
        { $schema: 'https://json-schema.org/draft/2020-12/schema', ...schema },
        null,
        2,
      ) + '\n',
    ]),
  );
}

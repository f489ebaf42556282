import {
  AgentEventSchema,
  CheckResultSchema,
  ComplianceReportSchema,
  DeviceFactsSchema,
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

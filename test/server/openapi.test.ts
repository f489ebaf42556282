import SwaggerParser from '@apidevtools/swagger-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPORT_DIGEST_HEADER } from '../../shared/index.ts';
import { testEngines } from '../helpers/databases.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

describe('the published OpenAPI document', () => {
  let server: TestServer;
  let document: {
    openapi: string;
    paths: Record<
      string,
      Record<
        string,
        {
          requestBody?: unknown;
          responses?: Record<string, { headers?: Record<string, { schema?: unknown }> }>;
        }
      >
    >;
  };
  beforeAll(async () => {
    const engine = testEngines[0];
    if (engine === undefined) {
      throw new Error('no database engine');
    }
    server = await startTestServer(engine);
    const response = await server.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(response.statusCode).toBe(200);
    document = response.json();
  });
  afterAll(() => server.close());

  it('is a valid OpenAPI 3 document (checked by an independent validator)', async () => {
    expect(document.openapi).toMatch(/^3\./);
    await expect(SwaggerParser.validate(structuredClone(document) as never)).resolves.toBeDefined();
  });

  it('describes the device API with request and response schemas generated from the routes', () => {
    expect(document.paths['/api/v1/enroll']?.post?.requestBody).toBeDefined();
    expect(Object.keys(document.paths['/api/v1/enroll']?.post?.responses ?? {})).toEqual(
      expect.arrayContaining(['201', '400', '403', '409']),
    );
    expect(document.paths['/api/v1/reports']?.post?.requestBody).toBeDefined();
    expect(Object.keys(document.paths['/api/v1/policy']?.get?.responses ?? {})).toEqual(
      expect.arrayContaining(['200', '304', '401', '404']),
    );
  });

  it('names the headers a device reads from /reports: the digest it may send deltas from, and when to come back', () => {
    const responses = document.paths['/api/v1/reports']?.post?.responses ?? {};
    for (const status of ['200', '409']) {
      expect(responses[status]?.headers?.[REPORT_DIGEST_HEADER]?.schema).toMatchObject({
        type: 'string',
      });
    }
    expect(responses['429']?.headers?.['retry-after']?.schema).toMatchObject({
      type: 'integer',
      minimum: 1,
    });
  });
});

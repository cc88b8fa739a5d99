import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { contractProblem } from '../src/testing/contract.ts';

const document = {
  paths: {
    '/v1/things/{id}': {
      get: {
        responses: {
          '200': { content: { 'application/json': {} } },
          '304': {},
          '404': { content: { 'application/problem+json': {} } },
        },
      },
    },
  },
};
const answer = (status: number, contentType?: string, route = '/v1/things/:id') => ({
  method: 'GET',
  route,
  status,
  contentType,
});

describe('an answer held to its OpenAPI document', () => {
  it('passes what the document has, with or without charset', () => {
    assert.equal(
      contractProblem(document, answer(200, 'application/json; charset=utf-8')),
      undefined,
    );
    assert.equal(contractProblem(document, answer(404, 'application/problem+json')), undefined);
    assert.equal(contractProblem(document, answer(304)), undefined);
  });
  it('names a status the document lacks', () => {
    assert.match(
      contractProblem(document, answer(409, 'application/problem+json')) ?? '',
      /409, a status its document lacks/,
    );
  });
  it('names a content type the document lacks for that status', () => {
    assert.match(
      contractProblem(document, answer(404, 'application/json')) ?? '',
      /with application\/json, but its document says application\/problem\+json/,
    );
    assert.match(contractProblem(document, answer(304, 'application/json')) ?? '', /says no body/);
  });
  it('leaves routes outside the document alone', () => {
    assert.equal(contractProblem(document, answer(500, 'text/plain', '/health/ready')), undefined);
  });
});

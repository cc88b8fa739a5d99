import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withLinks } from '../src/openapi.ts';

const document = () => ({
  openapi: '3.1.0',
  paths: {
    '/v1/things': { post: { responses: { '201': { description: 'made' } } } },
    '/v1/things/{id}': {
      get: { responses: { '200': { description: 'read' } } },
      delete: { responses: { '200': { description: 'gone' } } },
    },
  },
});

describe('OpenAPI links', () => {
  it('puts each link on the answer it starts from, pointing at its target by reference', () => {
    const original = document();
    const linked = withLinks(original, [
      {
        from: 'POST /v1/things',
        status: '201',
        to: ['GET /v1/things/{id}', 'DELETE /v1/things/{id}'],
        parameters: { id: '$response.body#/id' },
      },
    ]);
    assert.deepEqual(linked.paths['/v1/things'].post.responses['201'], {
      description: 'made',
      links: {
        'get-v1-things-id': {
          operationRef: '#/paths/~1v1~1things~1{id}/get',
          parameters: { id: '$response.body#/id' },
        },
        'delete-v1-things-id': {
          operationRef: '#/paths/~1v1~1things~1{id}/delete',
          parameters: { id: '$response.body#/id' },
        },
      },
    });
    // The document it was given is left as it was.
    assert.deepEqual(original, document());
  });

  it('refuses a link from or to an operation or answer the document does not have', () => {
    const link = { from: 'POST /v1/things', status: '201', to: [], parameters: {} };
    assert.throws(() => withLinks(document(), [{ ...link, from: 'PUT /v1/things' }]), /PUT/);
    assert.throws(() => withLinks(document(), [{ ...link, status: '202' }]), /no 202 answer/);
    assert.throws(
      () => withLinks(document(), [{ ...link, to: ['GET /v1/nothing/{id}'] }]),
      /GET \/v1\/nothing/,
    );
  });
});

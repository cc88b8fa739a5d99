/** Schemas the routes share: the problem+json body of every error answer. */
import { Type } from 'typebox';

export const problemBody = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    code: Type.String(),
    detail: Type.Optional(Type.String()),
  },
  { additionalProperties: true, description: 'RFC 9457 problem details' },
);

export const problemResponses = {
  400: problemBody,
  401: problemBody,
  403: problemBody,
  404: problemBody,
  429: problemBody,
  503: problemBody,
};

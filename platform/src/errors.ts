/**
 * One error base class for the whole system: a stable code, an HTTP status and a cause.
 * The HTTP edge turns it into an RFC 9457 problem+json body (see http.ts); anything that is not
 * an AppError is a bug and answers 500 without details.
 */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  code: string;
  [extension: string]: unknown;
}

export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly extensions: Record<string, unknown>;

  constructor(
    code: string,
    status: number,
    message: string,
    options: { cause?: unknown; extensions?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = status;
    this.extensions = options.extensions ?? {};
  }
}

/** Factory for a family of errors sharing a code and a status, like fastify's createError. */
export function defineError(code: string, status: number, title: string) {
  return class extends AppError {
    static readonly code = code;
    static readonly title = title;
    constructor(detail: string = title, options?: ConstructorParameters<typeof AppError>[3]) {
      super(code, status, detail, options);
      this.name = code;
    }
  };
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function titleFor(status: number): string {
  return TITLES[status] ?? (status >= 500 ? 'Server Error' : 'Client Error');
}

/** Builds a problem body. 5xx bodies never carry the internal message. */
export function problem(
  status: number,
  code: string,
  detail: string | undefined,
  extensions: Record<string, unknown> = {},
): ProblemDetails {
  const body: ProblemDetails = {
    type: `https://parley.dev/problems/${code.toLowerCase().replace(/_/g, '-')}`,
    title: titleFor(status),
    status,
    code,
    ...extensions,
  };
  if (detail !== undefined && status < 500) body.detail = detail;
  return body;
}
